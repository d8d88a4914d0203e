"""Dialogs: the engine that decides what the bot says, and the dialog YAML admins edit."""

from dialogs.base import Dialog, Handoff, Outcome, Reply, SystemEvent, TurnContext
from dialogs.echo import EchoDialog

__all__ = ["Dialog", "EchoDialog", "Handoff", "Outcome", "Reply", "SystemEvent", "TurnContext"]
