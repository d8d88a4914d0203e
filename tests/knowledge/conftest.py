"""The handoff tests' gateway (Slack agents, Telegram and Twilio customers, fake platforms,
real Redis), for knowledge-base answers through real channels."""

from tests.handoff.conftest import desk

__all__ = ["desk"]
