"""Normalised message types: what every channel adapter produces and consumes.

Inbound events and outbound messages are frozen, typed and serialisable to JSON (through
pydantic's dataclass support), so they can cross the durable queue and the outbox unchanged.
Raw platform dicts never leave ``channels/``; these types are all the rest of the code sees.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field, fields
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError

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


class _AboutACustomer:
    """The conversation store's key for the customer a message is about (``session_key``):
    shared by every inbound event and outbound message."""

    __slots__ = ()
    customer: CustomerRef

    @property
    def session_key(self) -> str:
        return session_key_for(self.customer)


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerMessage(_AboutACustomer):
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


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryStatus(_AboutACustomer):
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


# ``timer``: the handoff scheduler's wake-up (re-announce, abandon), queued in the customer's
# lane like any event so that it sees the session as the other turns leave it.
AgentAction = Literal[
    "claim", "reply", "note", "resolve", "return_to_bot", "timer", "suggest", "teach"
]
SUGGEST_PREFIX = "handoff:suggest:"  # a button value: + a knowledge-base entry id to send


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentEvent(_AboutACustomer):
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


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerReply(_AboutACustomer):
    """A message to a customer, on their channel: what every customer channel's adapter
    sends. ``key`` is derived from the turn that produced it, so a retried turn or a re-sent
    dead letter is recognised as the same message."""

    kind: Literal["reply"] = "reply"
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
    relay_of: str | None = None  # an agent's message relayed to the customer (its Slack ts)
    max_attempts: int | None = None  # overrides outbox.max_attempts (relays outlast outages)


# Desk operations: what the handoff does in the agents' channel (``conversation`` is that
# channel, ``customer`` the customer whose handoff it is). Only an adapter that serves the
# agents' desk (channels.base.AgentDesk: Slack, the console's agents) ever sees one. A post,
# update or ephemeral in a handoff's thread names its card by message key (``anchor``); the
# outbox fills in the thread (``conversation.thread_id``) or ``target`` once the card is posted.


@dataclass(frozen=True, slots=True, kw_only=True)
class DeskCard(_AboutACustomer):
    """Post a handoff card in the agents' channel."""

    kind: Literal["card"] = "card"
    key: str
    conversation: ConversationRef
    customer: CustomerRef
    card: Card
    max_attempts: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeskUpdate(_AboutACustomer):
    """Edit a posted handoff card in place (``target``: the card's platform message)."""

    kind: Literal["card_update"] = "card_update"
    key: str
    conversation: ConversationRef
    customer: CustomerRef
    card: Card
    anchor: str | None = None
    target: str | None = None
    max_attempts: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeskPost(_AboutACustomer):
    """A post in a handoff card's thread (or another thread of the agents' channel)."""

    kind: Literal["post"] = "post"
    key: str
    conversation: ConversationRef
    customer: CustomerRef
    text: str = ""
    buttons: tuple[Button, ...] = ()
    anchor: str | None = None
    mention: str | None = None  # a user group to notify (Slack subteam id), never escaped
    broadcast: bool = False  # also shown in the channel
    max_attempts: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeskEphemeral(_AboutACustomer):
    """A post only ``recipient`` (an agent) sees."""

    kind: Literal["ephemeral"] = "ephemeral"
    key: str
    conversation: ConversationRef
    customer: CustomerRef
    text: str
    recipient: str
    anchor: str | None = None
    max_attempts: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeskReaction(_AboutACustomer):
    """An emoji (``reaction``, by name) on the agents' message ``target``."""

    kind: Literal["reaction"] = "reaction"
    key: str
    conversation: ConversationRef
    customer: CustomerRef
    reaction: str
    target: str
    max_attempts: int | None = None


DeskOperation = DeskCard | DeskUpdate | DeskPost | DeskEphemeral | DeskReaction
# What the outbox sends: a reply to a customer, or an operation in the agents' channel.
OutboundMessage = CustomerReply | DeskOperation


_inbound: TypeAdapter[InboundEvent] = TypeAdapter(
    Annotated[CustomerMessage | DeliveryStatus | AgentEvent, Field(discriminator="kind")]
)
_outbound: TypeAdapter[OutboundMessage] = TypeAdapter(
    Annotated[
        CustomerReply | DeskCard | DeskUpdate | DeskPost | DeskEphemeral | DeskReaction,
        Field(discriminator="kind"),
    ]
)


def encode_event(event: InboundEvent) -> bytes:
    return _inbound.dump_json(event)


def decode_event(data: bytes | str) -> InboundEvent:
    return _inbound.validate_json(data)


def encode_outbound(message: OutboundMessage) -> bytes:
    return _outbound.dump_json(message)


def decode_outbound(data: bytes | str) -> OutboundMessage:
    try:
        return _outbound.validate_json(data)
    except ValidationError:
        raw = json.loads(data)
        if not isinstance(raw, dict) or "kind" in raw:
            raise
        return _outbound.validate_python(_upgraded(raw))


# Before the split, one message type carried every operation, chosen by ``purpose``; messages
# queued in that shape (in an outbox, or a dead letter) still decode.
_LEGACY_KINDS: dict[str, tuple[str, type[Any]]] = {
    "reply": ("reply", CustomerReply),
    "card": ("card", DeskCard),
    "card_update": ("card_update", DeskUpdate),
    "thread": ("post", DeskPost),
    "ephemeral": ("ephemeral", DeskEphemeral),
    "reaction": ("reaction", DeskReaction),
}


def _upgraded(raw: dict[str, Any]) -> dict[str, Any]:
    """A message in the old shape as the type its ``purpose`` named; the fields that type
    does not have (the other purposes', always empty) are left out."""
    kind, cls = _LEGACY_KINDS.get(str(raw.get("purpose") or "reply"), _LEGACY_KINDS["reply"])
    names = {f.name for f in fields(cls)}
    return {**{k: v for k, v in raw.items() if k in names}, "kind": kind}
