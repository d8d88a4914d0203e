"""The handoff store inside one process (``store.url: memory://``; see
``gateway.store.handoff``). The memory store's ``commit_turn`` writes its timers."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from gateway.store.handoff import day_of, days_between


class MemoryHandoffStore:
    """The same, inside one process (``store.url: memory://``)."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self._timers: dict[str, tuple[float, str]] = {}
        self._pickups: dict[str, list[float]] = defaultdict(list)
        self._log: list[dict[str, Any]] = []
        self._days: dict[str, set[str]] = defaultdict(set)

    async def record_card(self, key: str, card: str, ts: str, customer: str) -> None:
        self._values[f"card:{key}:{card}"] = ts
        self._values[f"thread:{ts}"] = json.dumps({"key": key, "customer": json.loads(customer)})

    async def card_ts(self, key: str, card: str) -> str | None:
        return self._values.get(f"card:{key}:{card}")

    async def thread(self, ts: str) -> tuple[str, str] | None:
        value = self._values.get(f"thread:{ts}")
        if value is None:
            return None
        data = json.loads(value)
        return str(data["key"]), json.dumps(data["customer"])

    async def record_relay(self, key: str, platform_id: str, agent_ts: str) -> None:
        self._values[f"relay:{key}:{platform_id}"] = agent_ts

    async def relay(self, key: str, platform_id: str) -> str | None:
        return self._values.get(f"relay:{key}:{platform_id}")

    async def schedule(self, key: str, due: float, customer: str) -> None:
        self.set_timer(key, due, customer)

    async def unschedule(self, key: str) -> None:
        self.set_timer(key, None)

    def set_timer(self, key: str, due: float | None, customer: str = "") -> None:
        """Synchronous, for the memory store's atomic commit."""
        if due is None:
            self._timers.pop(key, None)
        else:
            self._timers[key] = (due, customer)

    async def due(self, now: float, limit: int) -> list[tuple[str, str]]:
        keys = sorted((d, k) for k, (d, _) in self._timers.items() if d <= now)[:limit]
        out = []
        for _, k in keys:
            customer = self._timers[k][1]
            self._timers[k] = (now + 60, customer)
            out.append((k, customer))
        return out

    async def open_count(self) -> int:
        return len(self._timers)

    async def add_pickup(self, queue: str, seconds: float, keep: int) -> None:
        self._pickups[queue] = [seconds, *self._pickups[queue]][:keep]

    async def pickups(self, queue: str) -> list[float]:
        return list(self._pickups[queue])

    async def log(self, record: dict[str, Any]) -> None:
        self._log.append(record)

    async def records(self, since: float, until: float) -> list[dict[str, Any]]:
        return [r for r in self._log if since <= float(r["at"]) <= until]

    async def seen(self, key: str, at: float, handed_off: bool) -> None:
        self._days[f"c:{day_of(at)}"].add(key)
        if handed_off:
            self._days[f"h:{day_of(at)}"].add(key)

    async def containment(self, since: float, until: float) -> tuple[int, int]:
        days = days_between(since, until)
        total = set().union(*(self._days[f"c:{d}"] for d in days))
        handed = set().union(*(self._days[f"h:{d}"] for d in days))
        return len(total), len(handed)
