"""The overview's figures for a period, read from the per-hour aggregates (never from the
conversations): totals in the shape of ``frontdesk stats --json``, one row per bucket (hour,
day or week) for the charts and their CSV, and the latency distributions."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from console import keys as k
from gateway.handoff.stats import Summary
from gateway.review.record import knowledge_summary

Group = Literal["hour", "day", "week"]
# Latency histogram bins (upper bounds, seconds) and their labels.
BINS = (60, 300, 900, 1800, 3600, 4 * 3600, float("inf"))
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


@dataclass
class Bucket:
    start: float
    hours: list[float] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    values: dict[str, list[float]] = field(default_factory=dict)
    conversations: int = 0
    handed_off: int = 0


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def read(
    redis: Any, period: Period, is_open: Callable[[float], bool] | None = None
) -> tuple[Bucket, list[Bucket]]:
    """(the whole period, its buckets). ``is_open``: business hours, when only those count."""
    hours = k.hours_between(period.since, period.until - 1)
    if period.business_only and is_open is not None:
        hours = [h for h in hours if is_open(h)]
    async with redis.pipeline(transaction=False) as pipe:
        for h in hours:
            name = k.hour_of(h)
            pipe.hgetall(k.COUNTS + name)
            for figure in k.DURATIONS:
                pipe.lrange(f"{k.VALUES}{figure}:{name}", 0, -1)
        replies = await pipe.execute()
    total = Bucket(start=period.since, hours=hours)
    buckets: dict[float, Bucket] = {}
    step = 1 + len(k.DURATIONS)
    for i, h in enumerate(hours):
        b = buckets.setdefault(bucket_of(h, period.group), Bucket(start=bucket_of(h, period.group)))
        b.hours.append(h)
        counts = Counter({_s(f): int(v) for f, v in replies[i * step].items()})
        b.counts.update(counts)
        total.counts.update(counts)
        for j, figure in enumerate(k.DURATIONS):
            values = [float(v) for v in replies[i * step + 1 + j]]
            b.values.setdefault(figure, []).extend(values)
            total.values.setdefault(figure, []).extend(values)
    ordered = [buckets[s] for s in sorted(buckets)]
    async with redis.pipeline(transaction=False) as pipe:
        for b in [total, *ordered]:
            names = [k.hour_of(h) for h in b.hours]
            pipe.pfcount(*(k.CONVERSATIONS + n for n in names)) if names else pipe.echo("0")
            pipe.pfcount(*(k.HANDED + n for n in names)) if names else pipe.echo("0")
        counted = await pipe.execute()
    for i, b in enumerate([total, *ordered]):
        b.conversations, b.handed_off = int(counted[2 * i]), int(counted[2 * i + 1])
    return total, ordered


def prefixed(counts: Counter[str], prefix: str) -> dict[str, int]:
    return {f[len(prefix) :]: n for f, n in sorted(counts.items()) if f.startswith(prefix)}


def as_summary(b: Bucket, since: float, until: float) -> dict[str, Any]:
    """The figures ``frontdesk stats --json`` prints, computed from the aggregates."""
    s = Summary(since=since, until=until)
    s.handoffs.update(prefixed(b.counts, "handoff:"))
    s.after_hours = b.counts.get("after_hours", 0)
    s.claim = list(b.values.get("claim", []))
    s.first_reply = list(b.values.get("first_reply", []))
    s.duration = list(b.values.get("duration", []))
    s.outcomes.update(prefixed(b.counts, "outcome:"))
    for f, n in prefixed(b.counts, "csat:").items():
        s.csat[int(f.split(":")[1])] += n
    s.conversations, s.handed_off = b.conversations, b.handed_off
    kb = {kind: b.counts.get(f"kb:{kind}", 0) for kind in ("answer", "miss", "yes", "no")}
    return {**s.as_dict(), "knowledge": knowledge_summary(kb)}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


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
        "claim_median_s": _median(b.values.get("claim", [])),
        "first_reply_median_s": _median(b.values.get("first_reply", [])),
        "duration_median_s": _median(b.values.get("duration", [])),
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


def histogram(values: list[float]) -> list[tuple[str, int]]:
    counts = [0] * len(BINS)
    for v in values:
        counts[next(i for i, top in enumerate(BINS) if v < top)] += 1
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
