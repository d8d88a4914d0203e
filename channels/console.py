"""The console channel: ``frontdesk chat`` talks to the bot through the real pipeline.

Lines typed in the terminal become customer messages that go through ingest, the worker, the
dialog and the outbox like any webhook's; the outbox's sends are printed.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable

from channels.base import Capabilities, WebhookLess
from common.identity import session_key_for
from common.messages import (
    ConversationRef,
    CustomerMessage,
    CustomerRef,
    OutboundMessage,
)


class ConsoleChannel(WebhookLess):
    def __init__(
        self, write: Callable[[OutboundMessage], None], *, user: str = "you", name: str = "console"
    ) -> None:
        self.name = name
        self.conversation_channels = (name,)
        # the terminal shows options as "[1] …": a typed number picks one
        self.capabilities = {name: Capabilities(label="Console", numbered_options=True)}
        self._write = write
        self._user = user
        self._session = uuid.uuid4().hex[:8]
        self._seq = itertools.count(1)

    @property
    def customer(self) -> CustomerRef:
        return CustomerRef(channel=self.name, user_id=self._user, display_name=self._user)

    @property
    def session_key(self) -> str:
        """The conversation typed in this terminal."""
        return session_key_for(self.customer)

    def message(self, text: str) -> CustomerMessage:
        """A customer message from one typed line; ``/press PAYLOAD`` presses a button."""
        payload = text[len("/press ") :].strip() if text.startswith("/press ") else None
        return CustomerMessage(
            event_id=f"console-{self._session}-{next(self._seq)}",
            conversation=ConversationRef(channel=self.name, chat_id=self._user),
            customer=self.customer,
            text="" if payload else text,
            button_payload=payload,
        )

    async def send(self, message: OutboundMessage) -> str:
        self._write(message)
        return message.key
