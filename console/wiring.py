"""What the composition root gives the console: its settings, the few other settings it reads,
and the review inbox's apply (the code of ``frontdesk review apply``, which lives with the
commands)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from console.settings import ConsoleSettings
from gateway.review.inbox import ReviewInbox
from gateway.settings import BusinessHoursSettings


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    """What applying the review labels did (``frontdesk review apply``'s result)."""

    diff: str
    problems: list[str]
    written: bool
    done: list[str]  # the items written (or that would be, on a dry run)
    skipped: list[str]
    files: list[str]


ApplyLabels = Callable[[ReviewInbox, bool], Awaitable[ApplyOutcome]]  # (inbox, dry run)


async def _no_apply(inbox: ReviewInbox, dry_run: bool) -> ApplyOutcome:
    return ApplyOutcome("", ["applying labels is not wired in this process"], False, [], [], [])


@dataclass(frozen=True, slots=True)
class Wiring:
    settings: ConsoleSettings = field(default_factory=ConsoleSettings)
    public_url: str = "http://localhost:8080"
    retention: float = 90 * 24 * 3600.0  # store.transcript_retention
    business_hours: BusinessHoursSettings = field(default_factory=BusinessHoursSettings)
    note_prefix: str = "//"  # handoff.note_prefix
    apply_labels: ApplyLabels = _no_apply
