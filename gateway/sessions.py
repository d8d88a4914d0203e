"""Sessions: one customer's state, stored as versioned JSON with a TTL.

A session holds who the customer is on each channel, who owns the conversation (bot, queued for
an agent, or an agent), the open handoff (a typed :class:`HandoffState`) and the dialog's state
and slots. Sessions are only written by the worker that holds the conversation's lock, and every
write checks the version it read, so a concurrent write can never be lost silently. The
transcript is kept beside the session, as a capped list of entries appended by the same atomic
commit, so a turn never re-reads or re-writes the whole history.

Sessions stored by earlier releases still load: their ``handoff`` was a plain JSON object
(see :func:`decode_session`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from common.messages import ConversationRef, CustomerRef

Owner = Literal["bot", "queued", "agent"]
# ``requested``: the dialog asked for a person, the desk has not taken it in yet (no card);
# ``queued``: waiting for an agent; ``agent``: claimed; ``csat``: resolved, the rating question
# asked; ``closed``.
Phase = Literal["requested", "queued", "agent", "csat", "closed"]
HandoffOutcome = Literal["resolved", "returned", "abandoned"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffState:
    """A conversation's handoff: what the dialog said when it asked for a person (trigger,
    reason, queue, summary, debug), then what the desk adds: the card, where the customer last
    wrote, the owner and the times the statistics need."""

    card: str  # the card's message key (its Slack ts is resolved by the outbox)
    customer: CustomerRef
    conversation: ConversationRef  # where the customer last wrote: replies go there
    trigger: str = "unknown"
    reason: str = ""
    queue: str | None = None
    summary: str = ""
    at: float = 0.0  # requested / queued at
    debug: dict[str, Any] = field(default_factory=dict)
    state: Phase = "queued"
    after_hours: bool = False
    agent_id: str | None = None
    agent_name: str | None = None
    claimed_at: float | None = None
    first_reply_at: float | None = None
    last_customer_at: float = 0.0
    last_agent_at: float | None = None
    announced_at: float = 0.0
    announces: int = 0
    outcome: HandoffOutcome | None = None
    closed_at: float | None = None
    closed_by: str | None = None
    csat: int | None = None

    def replace(self, **changes: Any) -> HandoffState:
        return dataclasses.replace(self, **changes)

    def __getitem__(self, name: str) -> Any:
        """Read a field by name, as code written for the untyped handoff did (``["trigger"]``);
        prefer the attribute."""
        if name not in self.__dataclass_fields__:
            raise KeyError(name)
        return getattr(self, name)

    @property
    def open(self) -> bool:
        return self.state in ("queued", "agent")

    @property
    def taken_in(self) -> bool:
        """Whether the desk has taken the handoff in (posted, or is posting, its card)."""
        return self.state != "requested"

    @property
    def queue_name(self) -> str:
        return self.queue or "default"

    @property
    def last_activity(self) -> float:
        return max(self.last_customer_at, self.last_agent_at or 0.0, self.claimed_at or 0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptEntry:
    at: float
    direction: Literal["in", "out", "agent", "event"]
    channel: str
    text: str
    ref: str | None = None  # the event id (in) or message key (out)
    status: str | None = None  # delivery state of an outbound message, or "edited"


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    key: str
    version: int = 0
    owner: Owner = "bot"
    agent: str | None = None
    names: dict[str, str] = field(default_factory=dict)  # display name per channel
    channels: tuple[str, ...] = ()  # every channel the customer has used, first first
    last_inbound: dict[str, float] = field(default_factory=dict)  # per channel
    opted_out: tuple[str, ...] = ()  # channels where the customer said STOP
    offered: dict[str, list[list[str]]] = field(default_factory=dict)  # numbered options
    # options last shown as native buttons, per channel: a typed title picks one
    buttons: dict[str, list[list[str]]] = field(default_factory=dict)
    handoff: HandoffState | None = None  # the conversation's handoff, open or last closed
    slots: dict[str, Any] = field(default_factory=dict)
    # the sender's rate-limit bucket per channel: (tokens, at, warned) (gateway.limits)
    rate: dict[str, tuple[float, float, int]] = field(default_factory=dict)
    dialog: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0

    def replace(self, **changes: Any) -> Session:
        return dataclasses.replace(self, **changes)

    def seen_on(self, channel: str, display_name: str | None) -> Session:
        names = self.names
        if display_name and names.get(channel) != display_name:
            names = {**names, channel: display_name}
        channels = self.channels if channel in self.channels else (*self.channels, channel)
        if names is self.names and channels is self.channels:
            return self
        return self.replace(names=names, channels=channels)


_adapter: TypeAdapter[Session] = TypeAdapter(Session)
_entry: TypeAdapter[TranscriptEntry] = TypeAdapter(TranscriptEntry)


def encode_session(session: Session) -> bytes:
    return _adapter.dump_json(session)


def decode_session(data: bytes) -> Session:
    try:
        return _adapter.validate_json(data)
    except ValidationError:
        return _adapter.validate_python(upgrade_session(json.loads(data)))


def upgrade_session(raw: dict[str, Any]) -> dict[str, Any]:
    """A session stored by an earlier release, in today's shape. Its ``handoff`` object
    without a ``card`` was what the dialog said before the desk took it in; no session stays in
    that state past its turn, so one stored that way is a handoff that never reached the
    agents: the bot answers the customer again rather than leave them waiting for nobody."""
    handoff = raw.get("handoff")
    if isinstance(handoff, dict) and "card" not in handoff:
        raw = {**raw, "handoff": None}
        if raw.get("owner") == "queued":
            raw["owner"] = "bot"
    return raw


def encode_entry(entry: TranscriptEntry) -> bytes:
    return _entry.dump_json(entry)


def decode_entry(data: bytes) -> TranscriptEntry:
    return _entry.validate_json(data)
