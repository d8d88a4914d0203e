"""Handoff statistics: Prometheus metrics as things happen, and the period summary that
``frontdesk stats`` prints from the records kept in the store."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from gateway.handoff.records import (
    Claimed,
    Closed,
    FirstReply,
    HandedOff,
    Rated,
    StatsRecord,
    record_of,
)
from gateway.handoff.store import HandoffStore
from gateway.metrics import Metrics

CONTAINMENT_DAYS = 7


class Stats:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def observe(self, record: StatsRecord) -> None:
        m = self.metrics
        if isinstance(record, HandedOff):
            m.handoffs.labels(record.trigger).inc()
        elif isinstance(record, Claimed):
            m.handoff_claim_seconds.observe(record.seconds)
        elif isinstance(record, FirstReply):
            m.handoff_first_reply_seconds.observe(record.seconds)
        elif isinstance(record, Closed):
            m.handoffs_closed.labels(record.outcome).inc()
            m.handoff_duration_seconds.observe(record.seconds)
        else:
            m.csat.labels(str(record.score)).inc()

    async def refresh(self, hstore: HandoffStore) -> None:
        self.metrics.handoffs_open.set(await hstore.open_count())
        now = time.time()
        total, handed = await hstore.containment(now - (CONTAINMENT_DAYS - 1) * 86400, now)
        if total:
            self.metrics.bot_containment.set(1 - handed / total)


@dataclass
class Summary:
    since: float
    until: float
    handoffs: Counter[str] = field(default_factory=Counter)  # by trigger
    after_hours: int = 0
    claim: list[float] = field(default_factory=list)
    first_reply: list[float] = field(default_factory=list)
    duration: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    csat: Counter[int] = field(default_factory=Counter)
    conversations: int = 0
    handed_off: int = 0

    @property
    def containment(self) -> float | None:
        if not self.conversations:
            return None
        return 1 - self.handed_off / self.conversations

    def as_dict(self) -> dict[str, Any]:
        scores = [s for s, n in self.csat.items() for _ in range(n)]
        return {
            "since": self.since,
            "until": self.until,
            "handoffs": sum(self.handoffs.values()),
            "handoffs_by_trigger": dict(self.handoffs),
            "after_hours": self.after_hours,
            "time_to_claim": _figures(self.claim),
            "time_to_first_reply": _figures(self.first_reply),
            "duration": _figures(self.duration),
            "outcomes": dict(self.outcomes),
            "csat": {str(k): v for k, v in sorted(self.csat.items())},
            "csat_average": round(statistics.fmean(scores), 2) if scores else None,
            "conversations": self.conversations,
            "handed_off": self.handed_off,
            "bot_containment": self.containment,
        }


def _figures(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return {"count": len(values), "median": statistics.median(values), "p90": p90}


async def summarise(hstore: HandoffStore, since: float, until: float) -> Summary:
    summary = Summary(since=since, until=until)
    for logged in await hstore.records(since, until):
        r = record_of(logged)
        if r is None:
            continue
        if isinstance(r, HandedOff):
            summary.handoffs[r.trigger] += 1
            summary.after_hours += r.after_hours
        elif isinstance(r, Claimed):
            summary.claim.append(r.seconds)
        elif isinstance(r, FirstReply):
            summary.first_reply.append(r.seconds)
        elif isinstance(r, Closed):
            summary.outcomes[r.outcome] += 1
            summary.duration.append(r.seconds)
        elif isinstance(r, Rated):
            summary.csat[r.score] += 1
    summary.conversations, summary.handed_off = await hstore.containment(since, until)
    return summary


def describe(summary: Summary) -> str:
    """The summary as a person reads it."""

    def span(figures: dict[str, float] | None) -> str:
        if figures is None:
            return "no data"
        return (
            f"median {_human(figures['median'])}, 90% within {_human(figures['p90'])} "
            f"({int(figures['count'])})"
        )

    d = summary.as_dict()
    start = time.strftime("%Y-%m-%d %H:%M", time.localtime(summary.since))
    end = time.strftime("%Y-%m-%d %H:%M", time.localtime(summary.until))
    triggers = ", ".join(f"{t} {n}" for t, n in summary.handoffs.most_common()) or "none"
    outcomes = ", ".join(f"{o} {n}" for o, n in summary.outcomes.most_common()) or "none"
    ratings = sum(summary.csat.values())
    csat = (
        f"{d['csat_average']} / 5 from {ratings} ratings ("
        + ", ".join(f"{s}: {summary.csat.get(s, 0)}" for s in range(1, 6))
        + ")"
        if ratings
        else "no ratings"
    )
    containment = summary.containment
    contained = (
        f"{containment:.0%} of {summary.conversations} conversations never needed a person"
        if containment is not None
        else "no conversations recorded"
    )
    return "\n".join(
        [
            f"Handoffs from {start} to {end}",
            f"  handoffs:            {sum(summary.handoffs.values())} ({triggers}); "
            f"{summary.after_hours} outside business hours",
            f"  time to claim:       {span(d['time_to_claim'])}",
            f"  time to first reply: {span(d['time_to_first_reply'])}",
            f"  handoff duration:    {span(d['duration'])}",
            f"  ended:               {outcomes}",
            f"  satisfaction:        {csat}",
            f"  bot containment:     {contained}",
        ]
    )


def _human(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
