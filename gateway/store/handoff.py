"""The handoff store contract: what the handoff keeps besides the session: the card thread <->
conversation mapping, the relayed messages awaiting delivery reports, the timer schedule, recent
pickup times and the statistics log.

Each store supplies its own (``Store.handoff_store``): Redis (shared by every process, survives
restarts; ``gateway.store.redis_handoff``) or in-process memory (``gateway.store.memory_handoff``).
A turn's timer change is written by the store's atomic ``commit_turn``, not through this
contract, so a crash after a commit cannot lose it. Failures to reach the store are raised as
``StoreUnavailable``, whatever the implementation.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

MAP_TTL = 90 * 24 * 3600  # a thread stays answerable (and mapped) this long
RELAY_TTL = 7 * 24 * 3600  # a relayed message can be edited this long
EVENTS_MAXLEN = 200_000
# A record arrives in the log at most this long after its event time (it is logged right after
# the turn that produced it commits); reading a period looks this far around it.
LOG_DELAY = 3600.0


def day_of(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y%m%d")


def days_between(since: float, until: float) -> list[str]:
    first = dt.datetime.fromtimestamp(since, dt.UTC).date()
    last = dt.datetime.fromtimestamp(until, dt.UTC).date()
    return [
        (first + dt.timedelta(days=n)).strftime("%Y%m%d") for n in range((last - first).days + 1)
    ]


class HandoffStore(Protocol):
    async def record_card(self, key: str, card: str, ts: str, customer: str) -> None:
        """Card ``card`` of conversation ``key`` (customer ``customer``, JSON) was posted as
        Slack message ``ts``."""

    async def card_ts(self, key: str, card: str) -> str | None: ...

    async def thread(self, ts: str) -> tuple[str, str] | None:
        """The (session key, customer JSON) whose handoff card is Slack message ``ts``."""

    async def record_relay(self, key: str, platform_id: str, agent_ts: str) -> None: ...

    async def relay(self, key: str, platform_id: str) -> str | None: ...

    async def schedule(self, key: str, due: float, customer: str) -> None:
        """Wake conversation ``key`` (customer ``customer``, JSON) at ``due``. Turns do not
        call it: ``commit_turn`` writes their timer change atomically."""

    async def unschedule(self, key: str) -> None: ...

    async def due(self, now: float, limit: int) -> list[tuple[str, str]]:
        """Conversations whose timer is due, each pushed back by a minute (the turn that
        handles the wake-up schedules the next one)."""

    async def open_count(self) -> int: ...

    async def add_pickup(self, queue: str, seconds: float, keep: int) -> None: ...

    async def pickups(self, queue: str) -> list[float]: ...

    async def log(self, record: dict[str, Any]) -> None:
        """Append a statistics record (``at`` = its time)."""

    async def records(self, since: float, until: float) -> list[dict[str, Any]]: ...

    async def seen(self, key: str, at: float, handed_off: bool) -> None:
        """Count the conversation as active (and handed off) on ``at``'s day."""

    async def containment(self, since: float, until: float) -> tuple[int, int]:
        """(conversations, conversations handed off) on the days of the period."""
