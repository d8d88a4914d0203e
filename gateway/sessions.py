"""Sessions: one customer's state, stored as versioned JSON with a TTL.

A session holds who the customer is on each channel, who owns the conversation (bot, queued for
an agent, or an agent), and the dialog's state and slots. Sessions are only written by the
worker that holds the conversation's lock, and every write checks the version it read, so a
concurrent write can never be lost silently. The transcript is kept beside the session, as a
capped list of entries appended by the same atomic commit, so a turn never re-reads or
re-writes the whole history.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import TypeAdapter

Owner = Literal["bot", "queued", "agent"]


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
    handoff: dict[str, Any] | None = None  # the open handoff: trigger, reason, when, …
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
    return _adapter.validate_json(data)


def encode_entry(entry: TranscriptEntry) -> bytes:
    return _entry.dump_json(entry)


def decode_entry(data: bytes) -> TranscriptEntry:
    return _entry.validate_json(data)
