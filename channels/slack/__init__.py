"""Slack as a customer channel: direct messages, mentions, buttons and slash commands.

``adapter`` holds the channel (verify, parse, acknowledge, send), ``inbound`` the pure mapping
of Slack's bodies to events, ``render`` the Block Kit rendering and escaping.
"""

from channels.slack.adapter import SlackChannel, classify_slack_error
from channels.slack.inbound import SlackBody
from channels.slack.render import SlackPost, escape, render

__all__ = ["SlackBody", "SlackChannel", "SlackPost", "classify_slack_error", "escape", "render"]
