"""The console's Redis keys and its time buckets (hours, UTC).

Every aggregate key carries the hash tag ``{console}`` (one Redis Cluster slot, so a period's
keys can be read and merged in one command); what belongs to one conversation carries the
conversation's own tag (``fd:{<key>}:console…``) so the privacy erasure finds it with the rest.
"""

from __future__ import annotations

import datetime as dt

from gateway.store.redis import conversation_key

HOUR = 3600
DAY = 86400
KEEP = 400 * DAY  # aggregates are kept this long

PREFIX = "fd:{console}:"
COUNTS = PREFIX + "h:"  # hash per hour: counters
CONVERSATIONS = PREFIX + "conv:"  # HyperLogLog per hour: conversations with a customer message
HANDED = PREFIX + "handed:"  # HyperLogLog per hour: conversations handed to a person
VALUES = PREFIX + "v:"  # list per figure and hour: seconds (claim, first_reply, duration)
LAST = PREFIX + "last"  # sorted set: conversation -> its last customer message
ACTIVE = PREFIX + "active:"  # sorted set per day: conversation -> last customer message
INDEX = PREFIX + "ix:"  # sorted set per filter value: conversation -> latest time it applied
INDEX_NAMES = PREFIX + "ix-names:"  # set per dimension: the values seen (for the filter menus)
REFS = PREFIX + "ref:"  # string per conversation: its URL id -> its key
SESSIONS = PREFIX + "session:"
FAILURES = PREFIX + "failures:"
AUDIT = PREFIX + "audit"
TEMP = PREFIX + "tmp:"

DURATIONS = ("claim", "first_reply", "duration")
DIMENSIONS = ("channel", "outcome", "trigger", "intent", "rating")


def summary_key(key: str) -> str:
    """The conversation's summary hash (channels, counts, last handoff, rating)."""
    return conversation_key(key, "console")


def notes_key(key: str) -> str:
    """The conversation's per-turn notes (intent, confidence, knowledge), JSON list."""
    return conversation_key(key, "console:turns")


def hour_of(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y%m%d%H")


def day_of(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y%m%d")


def hour_start(at: float) -> float:
    return at - at % HOUR


def hours_between(since: float, until: float) -> list[float]:
    """The start of each hour from ``since``'s to ``until``'s (inclusive)."""
    first, last = hour_start(since), hour_start(until)
    return [first + n * HOUR for n in range(int((last - first) // HOUR) + 1)]


def days_between(since: float, until: float) -> list[str]:
    first = dt.datetime.fromtimestamp(since, dt.UTC).date()
    last = dt.datetime.fromtimestamp(until, dt.UTC).date()
    return [
        (first + dt.timedelta(days=n)).strftime("%Y%m%d") for n in range((last - first).days + 1)
    ]


def index_key(dimension: str, value: str) -> str:
    return f"{INDEX}{dimension}:{value}"
