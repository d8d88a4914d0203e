"""The period a page shows, from its query string: a preset (today, 24h, 7d, 30d, 90d) or a
date range (``since``/``until``, YYYY-MM-DD, UTC, both days included), the grouping and the
business-hours toggle. Whole hours, UTC, as the aggregates are kept."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from typing import cast

from console.figures import Group, Period
from console.keys import DAY, HOUR, hour_start

PRESETS = {"today": 0, "24h": 1, "7d": 7, "30d": 30, "90d": 90}
GROUPS = ("hour", "day", "week")
MAX_DAYS = 400


class BadPeriod(ValueError):
    """The query string's period cannot be used; the message says why."""


def _date(text: str, name: str) -> float:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as exc:
        raise BadPeriod(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from exc
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def parse(query: Mapping[str, str], now: float | None = None) -> tuple[Period, str]:
    """(the period, the preset's name or "range")."""
    now = time.time() if now is None else now
    end = hour_start(now) + HOUR
    preset = query.get("preset", "" if "since" in query else "7d")
    if query.get("since_ts") and query.get("until_ts"):  # a chart bar's bucket
        try:
            since, until = float(query["since_ts"]), float(query["until_ts"])
        except ValueError as exc:
            raise BadPeriod("since_ts/until_ts: seconds since 1970") from exc
        preset = "range"
    elif preset and preset != "range":
        if preset not in PRESETS:
            raise BadPeriod(f"preset {preset!r}: use one of {', '.join(PRESETS)}")
        days = PRESETS[preset]
        since = now - now % DAY if days == 0 else end - days * DAY
        until = end
    else:
        since = _date(query.get("since", ""), "since")
        until = _date(query.get("until", query.get("since", "")), "until") + DAY
        preset = "range"
    if until <= since:
        raise BadPeriod("until must be after since")
    if until - since > MAX_DAYS * DAY:
        raise BadPeriod(f"a period of at most {MAX_DAYS} days")
    group = query.get("group") or ("hour" if until - since <= 2 * DAY else "day")
    if group not in GROUPS:
        raise BadPeriod(f"group {group!r}: use hour, day or week")
    business = query.get("business", "") in ("1", "on", "true")
    return Period(since, until, cast(Group, group), business), preset


def as_query(period: Period, preset: str) -> dict[str, str]:
    """The query string that shows the same period again."""
    out: dict[str, str] = {"group": period.group}
    if preset == "range":
        out |= {"since_ts": f"{period.since:.0f}", "until_ts": f"{period.until:.0f}"}
    else:
        out["preset"] = preset
    if period.business_only:
        out["business"] = "1"
    return out
