"""Sessions: one customer's state, stored as versioned JSON with a TTL.

A session holds who the customer is on each channel, who owns the conversation (bot, queued for
an agent, or an agent), the dialog's state and slots, and a capped transcript. Sessions are only
written by the worker that holds the conversation's lock, and every write checks the version it
read, so a concurrent write can never be lost silently.
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
    slots: dict[str, Any] = field(default_factory=dict)
    dialog: dict[str, Any] = field(default_factory=dict)
    transcript: tuple[TranscriptEntry, ...] = ()
    created_at: float = 0.0
    updated_at: float = 0.0

    def replace(self, **changes: Any) -> Session:
        return dataclasses.replace(self, **changes)

    def with_entries(self, entries: list[TranscriptEntry], limit: int) -> Session:
        """The session with ``entries`` appended, keeping only the newest ``limit``."""
        transcript = (*self.transcript, *entries)
        return self.replace(transcript=transcript[-limit:])

    def seen_on(self, channel: str, display_name: str | None) -> Session:
        names = self.names
        if display_name and names.get(channel) != display_name:
            names = {**names, channel: display_name}
        channels = self.channels if channel in self.channels else (*self.channels, channel)
        if names is self.names and channels is self.channels:
            return self
        return self.replace(names=names, channels=channels)


_adapter: TypeAdapter[Session] = TypeAdapter(Session)


def encode_session(session: Session) -> bytes:
    return _adapter.dump_json(session)


def decode_session(data: bytes) -> Session:
    return _adapter.validate_json(data)
