"""Dialogs: the engine that decides what the bot says, and the dialog YAML admins edit.

The engine is pure: ``step(state, event) -> (state, replies)``. It never touches files, Redis
or HTTP; the gateway's worker carries out what it returns.
"""

from dialogs.base import Dialog, Reply
from dialogs.echo import EchoDialog

__all__ = ["Dialog", "EchoDialog", "Reply"]
