"""Normalised message types: what every channel adapter produces and consumes.

Inbound events and outbound messages are frozen, typed and serialisable to JSON (through
pydantic's dataclass support), so they can cross the durable queue and the outbox unchanged.
Raw platform dicts never leave ``channels/``; these types are all the rest of the code sees.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from gateway.identity import session_key_for


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerRef:
    """Who wrote: the platform's user id, with the display name and phone (E.164) if known."""

    channel: str
    user_id: str
    display_name: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationRef:
    """Where to answer: the channel's chat (and thread, where the platform has threads)."""

    channel: str
    chat_id: str
    thread_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    kind: Literal["image", "audio", "video", "file", "sticker"]
    url: str
    mime_type: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerMessage:
    """A customer wrote, sent media or a location, or pressed a button."""

    kind: Literal["message"] = "message"
    event_id: str
    conversation: ConversationRef
    customer: CustomerRef
    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    button_payload: str | None = None
    edited: bool = False
    # The platform's id of the interaction to acknowledge (Telegram callback_query id).
    interaction_id: str | None = None
    # A channel-level keyword the platform reserves: SMS STOP/START/HELP.
    control: Literal["opt_out", "opt_in", "help"] | None = None
    received_at: float = field(default_factory=time.time)

    @property
    def session_key(self) -> str:
        return session_key_for(self.customer)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryStatus:
    """The platform reports what became of a message we sent."""

    kind: Literal["status"] = "status"
    event_id: str
    conversation: ConversationRef
    customer: CustomerRef
    platform_message_id: str
    status: Literal["sent", "delivered", "read", "failed", "undelivered"]
    error: str | None = None
    received_at: float = field(default_factory=time.time)

    @property
    def session_key(self) -> str:
        return session_key_for(self.customer)


AgentAction = Literal["claim", "reply", "note", "resolve", "return_to_bot"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentEvent:
    """An agent acted on a handed-off conversation (from the agents' Slack channel)."""

    kind: Literal["agent"] = "agent"
    event_id: str
    conversation: ConversationRef
    customer: CustomerRef
    action: AgentAction
    agent_id: str
    agent_name: str | None = None
    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    received_at: float = field(default_factory=time.time)

    @property
    def session_key(self) -> str:
        return session_key_for(self.customer)


InboundEvent = CustomerMessage | DeliveryStatus | AgentEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundMessage:
    """A reply for one conversation. ``key`` is derived from the turn that produced it, so a
    retried turn or a re-sent dead letter is recognised as the same message."""

    key: str
    conversation: ConversationRef
    customer: CustomerRef
    text: str = ""
    buttons: tuple[Button, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    in_reply_to: str | None = None
    interaction_id: str | None = None  # answered before sending (Telegram callback_query)
    # When the platform's customer-service window closes (WhatsApp: 24 h after the customer's
    # last message); past it, free text cannot be sent. None: no window on this channel.
    window_closes_at: float | None = None

    @property
    def session_key(self) -> str:
        return session_key_for(self.customer)


_inbound: TypeAdapter[InboundEvent] = TypeAdapter(
    Annotated[CustomerMessage | DeliveryStatus | AgentEvent, Field(discriminator="kind")]
)
_outbound: TypeAdapter[OutboundMessage] = TypeAdapter(OutboundMessage)


def encode_event(event: InboundEvent) -> bytes:
    return _inbound.dump_json(event)


def decode_event(data: bytes | str) -> InboundEvent:
    return _inbound.validate_json(data)


def encode_outbound(message: OutboundMessage) -> bytes:
    return _outbound.dump_json(message)


def decode_outbound(data: bytes | str) -> OutboundMessage:
    return _outbound.validate_json(data)
