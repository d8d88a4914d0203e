"""Normalised message types: what every channel adapter produces and consumes.

Inbound events and outbound messages are frozen, typed and serialisable to JSON (through
pydantic's dataclass support), so they can cross the durable queue and the outbox unchanged.
Raw platform dicts never leave ``channels/``; these types are all the rest of the code sees.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, fields
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from common.identity import session_key_for


class InvalidMessage(ValueError):
    """A value that no message may carry (a location off the globe, text that is not valid
    Unicode): raised when the message is built, so no adapter can let one through to the
    queue, where it could not be encoded."""


def _check_values(value: object) -> None:
    """Every ``str`` field of a message type must be encodable as UTF-8 (no lone surrogate
    such as JSON's ``"\\ud800"``) and every ``float`` finite, or it could not cross the
    queue as JSON."""
    for f in fields(value):  # type: ignore[arg-type]
        text = getattr(value, f.name)
        if isinstance(text, float) and not math.isfinite(text):
            raise InvalidMessage(f"{f.name} must be a finite number")
        if isinstance(text, str) and not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidMessage(f"{f.name} is not valid Unicode (lone surrogate)") from None


def _coordinate(name: str, value: object, limit: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidMessage(f"{name} must be a number")
    try:
        number = float(value)
    except OverflowError:
        raise InvalidMessage(f"{name} is out of range") from None
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise InvalidMessage(f"{name} must be a finite number within ±{limit:g}")
    return number


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerRef:
    """Who wrote: the platform's user id, with the display name and phone (E.164) if known."""

    channel: str
    user_id: str
    display_name: str | None = None
    phone: str | None = None

    def __post_init__(self) -> None:
        _check_values(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationRef:
    """Where to answer: the channel's chat (and thread, where the platform has threads)."""

    channel: str
    chat_id: str
    thread_id: str | None = None

    def __post_init__(self) -> None:
        _check_values(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    kind: Literal["image", "audio", "video", "file", "sticker"]
    url: str
    mime_type: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        _check_values(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None

    def __post_init__(self) -> None:
        # Latitude within ±90, longitude within ±180, both finite: JSON has no inf or nan.
        object.__setattr__(self, "latitude", _coordinate("latitude", self.latitude, 90))
        object.__setattr__(self, "longitude", _coordinate("longitude", self.longitude, 180))
        _check_values(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Button:
    title: str
    payload: str

    def __post_init__(self) -> None:
        _check_values(self)


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

    def __post_init__(self) -> None:
        _check_values(self)

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

    def __post_init__(self) -> None:
        _check_values(self)

    @property
    def session_key(self) -> str:
        return session_key_for(self.customer)


# ``timer``: the handoff scheduler's wake-up (re-announce, abandon), queued in the customer's
# lane like any event so that it sees the session as the other turns leave it.
AgentAction = Literal[
    "claim", "reply", "note", "resolve", "return_to_bot", "timer", "suggest", "teach"
]
SUGGEST_PREFIX = "handoff:suggest:"  # a button value: + a knowledge-base entry id to send


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
    # The agent's own message on the agents' platform (Slack ``ts``), for delivery marks.
    message_ts: str | None = None
    received_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        _check_values(self)

    @property
    def session_key(self) -> str:
        return session_key_for(self.customer)


InboundEvent = CustomerMessage | DeliveryStatus | AgentEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class CardField:
    label: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Card:
    """A structured notice for the agents' channel (a handoff card): every text in it is
    plain text that the adapter escapes; ``buttons`` carry payloads back as agent events."""

    title: str
    fields: tuple[CardField, ...] = ()
    text: str = ""
    context: str = ""
    buttons: tuple[Button, ...] = ()


# What an outbound message is for. ``reply``: to a customer (or a plain post); ``card`` /
# ``card_update``: a handoff card posted / edited in place; ``thread``: a post in the card's
# thread; ``ephemeral``: seen only by ``recipient``; ``reaction``: an emoji on ``target``.
Purpose = Literal["reply", "card", "card_update", "thread", "ephemeral", "reaction"]


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
    purpose: Purpose = "reply"
    card: Card | None = None
    # The card (by its message key) whose thread this goes to, or which it updates: the outbox
    # fills in ``conversation.thread_id`` / ``target`` once the card has been posted.
    anchor: str | None = None
    target: str | None = None  # the platform message acted on (card_update, reaction)
    recipient: str | None = None  # ephemeral: the one user who sees it
    reaction: str | None = None  # emoji name, for purpose "reaction"
    mention: str | None = None  # a user group to notify (Slack subteam id), never escaped
    broadcast: bool = False  # a thread post also shown in the channel
    relay_of: str | None = None  # an agent's message relayed to the customer (its Slack ts)
    max_attempts: int | None = None  # overrides outbox.max_attempts (relays outlast outages)

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
