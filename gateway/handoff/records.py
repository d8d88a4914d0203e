"""The handoff's statistics records: one typed, frozen record per thing that happened (a
handoff, a claim, an agent's first reply, a close, a rating), tagged by ``type``.

The desk returns them with a turn; once the turn is committed they update the metrics and are
appended to the statistics log as JSON objects (the store keeps them in event-time order and
knows nothing of their shape), which ``frontdesk stats`` reads back. Records logged by
earlier releases were plain JSON objects of the same shape, so they decode unchanged; a record
that does not decode (a type this release does not know) is skipped, never fatal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError

from gateway.sessions import HandoffOutcome


@dataclass(frozen=True, slots=True, kw_only=True)
class HandedOff:
    type: Literal["handoff"] = "handoff"
    at: float
    trigger: str
    queue: str
    after_hours: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Claimed:
    type: Literal["claim"] = "claim"
    at: float
    seconds: float  # waiting in the queue
    queue: str
    agent: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FirstReply:
    type: Literal["first_reply"] = "first_reply"
    at: float
    seconds: float  # from the handoff to the agent's first reply


@dataclass(frozen=True, slots=True, kw_only=True)
class Closed:
    type: Literal["closed"] = "closed"
    at: float
    outcome: HandoffOutcome
    seconds: float  # from the handoff to its close
    queue: str
    agent: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rated:
    type: Literal["csat"] = "csat"
    at: float
    score: int
    agent: str | None = None


StatsRecord = HandedOff | Claimed | FirstReply | Closed | Rated

_record: TypeAdapter[StatsRecord] = TypeAdapter(
    Annotated[HandedOff | Claimed | FirstReply | Closed | Rated, Field(discriminator="type")]
)


def record_json(record: StatsRecord) -> dict[str, Any]:
    """The record as the JSON object the statistics log keeps."""
    return _record.dump_python(record, mode="json")  # type: ignore[no-any-return]


def record_of(data: Mapping[str, Any]) -> StatsRecord | None:
    """The record a logged JSON object holds, or None for one that is not a known record."""
    try:
        return _record.validate_python(data)
    except ValidationError:
        return None


__all__ = [
    "Claimed",
    "Closed",
    "FirstReply",
    "HandedOff",
    "Rated",
    "StatsRecord",
    "record_json",
    "record_of",
]
