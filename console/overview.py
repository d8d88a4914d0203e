"""The overview's content for a period: the figures, the charts (with their drill-down links)
and the rows of the figures CSV, shared by the page, its JSON API and the export."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from console import figures as f
from console.charts import Bar, bar_chart
from console.figures import Bucket, Period
from console.keys import DAY, HOUR

# The chart name -> the figures CSV columns behind it.
CHART_COLUMNS = {
    "conversations": ["conversations", "handed_off"],
    "containment": ["conversations", "handed_off", "containment"],
    "messages": ["messages_in", "messages_out", "in_*", "out_*"],
    "handoffs": ["handoffs", "handoffs_*"],
    "latency": ["claim_median_s", "first_reply_median_s", "duration_median_s"],
    "outcomes": ["outcome_*"],
    "csat": ["ratings"],
    "knowledge": ["kb_answer_rate", "kb_helpful"],
    "understanding": ["bot_turns", "not_understood", "not_understood_rate"],
}


def _end(start: float, period: Period) -> float:
    step = {"hour": HOUR, "day": DAY, "week": 7 * DAY}[period.group]
    return min(start + step, period.until)


def link(since: float, until: float, **filters: str) -> str:
    query = {"since_ts": f"{since:.0f}", "until_ts": f"{until:.0f}", **filters}
    return "/console/conversations?" + urlencode(query)


async def compute(redis: Any, period: Period, is_open: Any) -> dict[str, Any]:
    started = time.perf_counter()
    total, buckets = await f.read(redis, period, is_open)
    rows = [f.row(b, period.group) for b in buckets]
    return {
        "total": total,
        "buckets": buckets,
        "rows": rows,
        "summary": f.as_summary(total, period.since, period.until),
        "csat": f.csat_split(total.counts),
        "channels": _channels(total),
        "histograms": {
            n: f.histogram(total.spreads[n]) for n in ("claim", "first_reply", "duration")
        },
        "seconds": round(time.perf_counter() - started, 4),
    }


def _channels(total: Bucket) -> list[dict[str, Any]]:
    ins, outs = f.prefixed(total.counts, "in:"), f.prefixed(total.counts, "out:")
    return [
        {"channel": c, "in": ins.get(c, 0), "out": outs.get(c, 0)}
        for c in sorted(set(ins) | set(outs))
    ]


def charts(data: dict[str, Any], period: Period) -> dict[str, Markup]:
    buckets: list[Bucket] = data["buckets"]
    rows = data["rows"]
    whole = (period.since, period.until)

    def per_bucket(
        name: str, title: str, key: str, percent: bool = False, **filters: str
    ) -> Markup:
        bars = [
            Bar(r["bucket"], r[key] or 0, link(b.start, _end(b.start, period), **filters))
            for b, r in zip(buckets, rows, strict=True)
        ]
        return bar_chart(name, title, bars, percent=percent)

    summary = data["summary"]
    out = {
        "conversations": per_bucket("conversations", "Conversations", "conversations"),
        "containment": per_bucket(
            "containment", "Bot containment", "containment", True, outcome="bot_only"
        ),
        "handoffs": bar_chart(
            "handoffs",
            "Handoffs by trigger",
            [Bar(t, n, link(*whole, trigger=t)) for t, n in summary["handoffs_by_trigger"].items()],
            color="#d97706",
        ),
        "outcomes": bar_chart(
            "outcomes",
            "How handoffs ended",
            [Bar(o, n, link(*whole, outcome=o)) for o, n in summary["outcomes"].items()],
            color="#7c3aed",
        ),
        "knowledge": per_bucket("knowledge", "Knowledge-base answer rate", "kb_answer_rate", True),
        "helpful": per_bucket("helpful", "Knowledge answers rated helpful", "kb_helpful", True),
        "understanding": per_bucket(
            "understanding", "Not understood (share of bot turns)", "not_understood_rate", True
        ),
    }
    for name, title in (
        ("claim", "Time to claim"),
        ("first_reply", "Time to first agent reply"),
        ("duration", "Handoff duration"),
    ):
        out[name] = bar_chart(
            name, title, [Bar(label, n) for label, n in data["histograms"][name]], color="#0d9488"
        )
    for who, title in (("agent", "Ratings after an agent"), ("bot", "Ratings, bot only")):
        counts = data["csat"]["split"][who]
        out[f"csat_{who}"] = (
            bar_chart(
                f"csat_{who}",
                title,
                [Bar(str(n + 1), c, link(*whole, rating=str(n + 1))) for n, c in enumerate(counts)],
                color="#16a34a",
            )
            if sum(counts)
            else Markup('<p class="empty">No ratings.</p>')
        )
    return out


def csv_columns(rows: list[dict[str, Any]], chart: str | None) -> list[str]:
    """The columns of the figures CSV: all, or those behind one chart."""
    every: list[str] = []
    for r in rows:
        every += [c for c in r if c not in every]
    if not chart:
        return every
    wanted = CHART_COLUMNS.get(chart)
    if wanted is None:
        raise ValueError(f"chart {chart!r}: one of {', '.join(CHART_COLUMNS)}")
    chosen = ["bucket", "start"]
    for w in wanted:
        chosen += [
            c
            for c in every
            if (c == w or (w.endswith("*") and c.startswith(w[:-1]))) and c not in chosen
        ]
    return chosen
