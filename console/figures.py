"""The overview's figures for a period, read from the per-hour aggregates (never from the
conversations): totals in the shape of ``frontdesk stats --json``, one row per bucket (hour,
day or week) for the charts and their CSV, and the latency distributions."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

from console import keys as k
from gateway.handoff.stats import Summary
from gateway.review.record import knowledge_summary

Group = Literal["hour", "day", "week"]
# Latency histogram bins (upper bounds 60, 300, 900, 1800, 3600, 14400 s in aggregate.lua).
BIN_LABELS = ("< 1 min", "1-5 min", "5-15 min", "15-30 min", "30-60 min", "1-4 h", "> 4 h")


@dataclass(frozen=True, slots=True)
class Period:
    since: float  # the start of an hour (UTC)
    until: float  # the end of an hour: exclusive
    group: Group = "day"
    business_only: bool = False


def bucket_of(hour: float, group: Group) -> float:
    if group == "hour":
        return hour
    day = hour - hour % k.DAY
    if group == "day":
        return day
    weekday = dt.datetime.fromtimestamp(day, dt.UTC).weekday()
    return day - weekday * k.DAY


def bucket_label(start: float, group: Group) -> str:
    when = dt.datetime.fromtimestamp(start, dt.UTC)
    if group == "hour":
        return when.strftime("%Y-%m-%d %H:00")
    return when.strftime("%Y-%m-%d") if group == "day" else "week of " + when.strftime("%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class Spread:
    """A duration figure's values in a bucket: how many, the median, the 90th percentile (as
    ``frontdesk stats`` computes them) and, for the whole period, the histogram."""

    count: int = 0
    median: float | None = None
    p90: float | None = None
    histogram: tuple[int, ...] = ()

    def figures(self) -> dict[str, float] | None:
        if not self.count:
            return None
        return {"count": self.count, "median": self.median or 0.0, "p90": self.p90 or 0.0}


@dataclass
class Bucket:
    start: float
    hours: list[float] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    spreads: dict[str, Spread] = field(default_factory=dict)
    conversations: int = 0
    handed_off: int = 0


_SCRIPT = (resources.files("console") / "aggregate.lua").read_text(encoding="utf-8")


def _spread(reply: list[Any]) -> Spread:
    if not reply or int(reply[0]) == 0:
        return Spread()
    low, high = float(reply[1]), float(reply[2])
    median = low if low == high else (low + high) / 2
    return Spread(int(reply[0]), median, float(reply[3]), tuple(int(x) for x in reply[4:]))


async def read(
    redis: Any, period: Period, is_open: Callable[[float], bool] | None = None
) -> tuple[Bucket, list[Bucket]]:
    """(the whole period, its buckets), summed by one script inside Redis. ``is_open``:
    business hours, when only those count."""
    hours = k.hours_between(period.since, period.until - 1)
    if period.business_only and is_open is not None:
        hours = [h for h in hours if is_open(h)]
    starts = sorted({bucket_of(h, period.group) for h in hours})
    index = {start: n + 1 for n, start in enumerate(starts)}
    keys: list[str] = []
    for h in hours:
        name = k.hour_of(h)
        keys.append(k.COUNTS + name)
        keys += [f"{k.VALUES}{figure}:{name}" for figure in k.DURATIONS]
        keys += [k.CONVERSATIONS + name, k.HANDED + name]
    keys.append(f"{k.TEMP}{uuid.uuid4().hex}")
    args = [len(starts), len(hours), *(index[bucket_of(h, period.group)] for h in hours)]
    reply = json.loads(await redis.eval(_SCRIPT, len(keys), *keys, *args))
    total = Bucket(start=period.since, hours=hours)
    buckets = [Bucket(start=start) for start in starts]
    for b, part in zip(buckets, reply["b"] or [], strict=True):
        b.counts = Counter({f: int(n) for f, n in (part["c"] or {}).items()})
        total.counts.update(b.counts)
        b.spreads = {f: _spread(r) for f, r in zip(k.DURATIONS, part["s"], strict=True)}
        b.conversations, b.handed_off = int(part["v"]), int(part["h"])
    total.spreads = {f: _spread(r) for f, r in zip(k.DURATIONS, reply["s"], strict=True)}
    total.conversations, total.handed_off = int(reply["v"]), int(reply["h"])
    return total, buckets


def prefixed(counts: Counter[str], prefix: str) -> dict[str, int]:
    return {f[len(prefix) :]: n for f, n in sorted(counts.items()) if f.startswith(prefix)}


def as_summary(b: Bucket, since: float, until: float) -> dict[str, Any]:
    """The figures ``frontdesk stats --json`` prints, computed from the aggregates."""
    s = Summary(since=since, until=until)
    s.handoffs.update(prefixed(b.counts, "handoff:"))
    s.after_hours = b.counts.get("after_hours", 0)
    s.outcomes.update(prefixed(b.counts, "outcome:"))
    for f, n in prefixed(b.counts, "csat:").items():
        s.csat[int(f.split(":")[1])] += n
    s.conversations, s.handed_off = b.conversations, b.handed_off
    kb = {kind: b.counts.get(f"kb:{kind}", 0) for kind in ("answer", "miss", "yes", "no")}
    figures = {
        "time_to_claim": b.spreads["claim"].figures(),
        "time_to_first_reply": b.spreads["first_reply"].figures(),
        "duration": b.spreads["duration"].figures(),
    }
    return {**s.as_dict(), **figures, "knowledge": knowledge_summary(kb)}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _median(spread: Spread | None) -> float | None:
    return None if spread is None or spread.median is None else round(spread.median, 1)


def row(b: Bucket, group: Group) -> dict[str, Any]:
    """One bucket's figures: a row of the figures CSV and a point of every chart."""
    c = b.counts
    turns = c.get("turns", 0)
    kb = knowledge_summary({x: c.get(f"kb:{x}", 0) for x in ("answer", "miss", "yes", "no")})
    out: dict[str, Any] = {
        "bucket": bucket_label(b.start, group),
        "start": b.start,
        "conversations": b.conversations,
        "handed_off": b.handed_off,
        "containment": None
        if not b.conversations
        else round(1 - b.handed_off / b.conversations, 4),
        "messages_in": sum(prefixed(c, "in:").values()),
        "messages_out": sum(prefixed(c, "out:").values()),
        "handoffs": sum(prefixed(c, "handoff:").values()),
        "claim_median_s": _median(b.spreads.get("claim")),
        "first_reply_median_s": _median(b.spreads.get("first_reply")),
        "duration_median_s": _median(b.spreads.get("duration")),
        "ratings": sum(prefixed(c, "csat:").values()),
        "bot_turns": turns,
        "not_understood": c.get("not_understood", 0),
        "not_understood_rate": _rate(c.get("not_understood", 0), turns),
        "kb_answer_rate": kb["answer_rate"],
        "kb_helpful": kb["helpful"],
    }
    for name, prefix in (
        ("in", "in:"),
        ("out", "out:"),
        ("handoffs", "handoff:"),
        ("outcome", "outcome:"),
    ):
        for key, n in prefixed(c, prefix).items():
            out[f"{name}_{key}"] = n
    return out


def histogram(spread: Spread) -> list[tuple[str, int]]:
    counts = spread.histogram or (0,) * len(BIN_LABELS)
    return list(zip(BIN_LABELS, counts, strict=True))


def csat_split(counts: Counter[str]) -> dict[str, Any]:
    """Ratings 1-5 bot-only vs after an agent, and the average by channel."""
    split: dict[str, list[int]] = {}
    for who in ("bot", "agent"):
        split[who] = [counts.get(f"csat:{who}:{n}", 0) for n in range(1, 6)]
    channels: dict[str, list[int]] = {}
    for f, n in prefixed(counts, "csat_ch:").items():
        channel, score = f.rsplit(":", 1)
        channels.setdefault(channel, [0] * 5)[int(score) - 1] += n
    return {
        "split": split,
        "average": {w: _average(v) for w, v in split.items()},
        "channels": {c: {"counts": v, "average": _average(v)} for c, v in channels.items()},
    }


def _average(counts: list[int]) -> float | None:
    n = sum(counts)
    return round(sum((i + 1) * c for i, c in enumerate(counts)) / n, 2) if n else None
