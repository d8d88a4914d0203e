"""What the handoff keeps besides the session: the card thread <-> conversation mapping, the
relayed messages awaiting delivery reports, the timer schedule, recent pickup times and the
statistics log. Redis (shared by every process, survives restarts) or in-process memory.

Per-conversation keys carry the conversation's hash tag (``fd:{<key>}:…``); the thread map, the
schedule and the statistics are global keys (``fd:handoff:…``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import zlib
from collections import defaultdict
from typing import Any, Protocol

from gateway.store import Store

MAP_TTL = 90 * 24 * 3600  # a thread stays answerable (and mapped) this long
RELAY_TTL = 7 * 24 * 3600  # a relayed message can be edited this long
EVENTS_MAXLEN = 200_000


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

    async def schedule(self, key: str, due: float, customer: str) -> None: ...

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


def handoff_store(store: Store, retention: float | None = None) -> HandoffStore:
    redis = getattr(store, "redis", None)
    if redis is not None:
        return RedisHandoffStore(redis, retention=retention)
    return MemoryHandoffStore()


# The daily conversation counters (one PFADD per turn) are spread over this many hash slots,
# so that on Redis Cluster no one node takes every turn's counter update.
STATS_SHARDS = 16


def stats_shard(key: str) -> int:
    return zlib.crc32(key.encode()) % STATS_SHARDS


def stats_key(kind: str, shard: int, day: str) -> str:
    return f"fd:{{stats:{shard}}}:{kind}:{day}"


def _tag(key: str) -> str:
    from gateway.store.redis import conversation_key

    return conversation_key(key, "")


# A record arrives in the stream at most this long after its event time (it is logged right
# after the turn that produced it commits); reading a period looks this far around it.
LOG_DELAY = 3600.0


class RedisHandoffStore:
    THREADS = "fd:handoff:thread:"
    TIMERS = "fd:handoff:timers"
    WHO = "fd:handoff:timer-customers"
    EVENTS = "fd:handoff:events"

    def __init__(self, redis: Any, *, retention: float | None = None) -> None:
        self.redis = redis
        # Records about a customer (cards, thread maps, relays) never outlive the retention.
        limit = MAP_TTL if retention is None else max(1, int(retention))
        self.map_ttl = min(MAP_TTL, limit)
        self.relay_ttl = min(RELAY_TTL, limit)

    async def record_card(self, key: str, card: str, ts: str, customer: str) -> None:
        mapping = json.dumps({"key": key, "customer": json.loads(customer)})
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(f"{_tag(key)}card:{card}", ts, ex=self.map_ttl)
            pipe.set(self.THREADS + ts, mapping, ex=self.map_ttl)
            await pipe.execute()

    async def card_ts(self, key: str, card: str) -> str | None:
        value = await self.redis.get(f"{_tag(key)}card:{card}")
        return None if value is None else _s(value)

    async def thread(self, ts: str) -> tuple[str, str] | None:
        value = await self.redis.get(self.THREADS + ts)
        if value is None:
            return None
        data = json.loads(value)
        return str(data["key"]), json.dumps(data["customer"])

    async def record_relay(self, key: str, platform_id: str, agent_ts: str) -> None:
        await self.redis.set(f"{_tag(key)}relay:{platform_id}", agent_ts, ex=self.relay_ttl)

    async def relay(self, key: str, platform_id: str) -> str | None:
        value = await self.redis.get(f"{_tag(key)}relay:{platform_id}")
        return None if value is None else _s(value)

    async def schedule(self, key: str, due: float, customer: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self.TIMERS, {key: due})
            pipe.hset(self.WHO, key, customer)
            await pipe.execute()

    async def unschedule(self, key: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrem(self.TIMERS, key)
            pipe.hdel(self.WHO, key)
            await pipe.execute()

    async def due(self, now: float, limit: int) -> list[tuple[str, str]]:
        keys = [_s(k) for k in await self.redis.zrangebyscore(self.TIMERS, 0, now, 0, limit)]
        if not keys:
            return []
        # XX: a conversation unscheduled meanwhile is not brought back.
        await self.redis.zadd(self.TIMERS, {k: now + 60 for k in keys}, xx=True)
        who = await self.redis.hmget(self.WHO, keys)
        return [(k, _s(c)) for k, c in zip(keys, who, strict=True) if c is not None]

    async def open_count(self) -> int:
        return int(await self.redis.zcard(self.TIMERS))

    async def add_pickup(self, queue: str, seconds: float, keep: int) -> None:
        name = f"fd:handoff:pickups:{queue}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.lpush(name, f"{seconds:.3f}")
            pipe.ltrim(name, 0, keep - 1)
            await pipe.execute()

    async def pickups(self, queue: str) -> list[float]:
        return [float(v) for v in await self.redis.lrange(f"fd:handoff:pickups:{queue}", 0, -1)]

    async def log(self, record: dict[str, Any]) -> None:
        # Redis picks the id (the time the record arrives): records of two conversations may
        # arrive out of the order of their event times, and an id taken from the event time
        # would then be refused as smaller than the stream's last one.
        await self.redis.xadd(
            self.EVENTS, {"r": json.dumps(record)}, maxlen=EVENTS_MAXLEN, approximate=True
        )

    async def records(self, since: float, until: float) -> list[dict[str, Any]]:
        entries = await self.redis.xrange(
            self.EVENTS,
            min=str(int((since - LOG_DELAY) * 1000)),
            max=str(int((until + LOG_DELAY) * 1000)),
        )
        records = (json.loads(fields[b"r"]) for _, fields in entries)
        return [r for r in records if since <= float(r["at"]) <= until]

    async def seen(self, key: str, at: float, handed_off: bool) -> None:
        day, shard = day_of(at), stats_shard(key)
        async with self.redis.pipeline(transaction=False) as pipe:
            for kind in ("conversations", "handed_off") if handed_off else ("conversations",):
                name = stats_key(kind, shard, day)
                pipe.pfadd(name, key)
                pipe.expire(name, 400 * 24 * 3600)
            await pipe.execute()

    async def containment(self, since: float, until: float) -> tuple[int, int]:
        # A conversation always counts in the same shard, so the shards' counts add up; the
        # days of one shard share its hash slot, so one PFCOUNT unions them.
        # (Concurrent calls, not a pipeline: redis-py refuses PFCOUNT in a cluster pipeline.)
        days = days_between(since, until)
        counts = await asyncio.gather(
            *(
                self.redis.pfcount(*(stats_key(kind, shard, d) for d in days))
                for kind in ("conversations", "handed_off")
                for shard in range(STATS_SHARDS)
            )
        )
        return sum(map(int, counts[:STATS_SHARDS])), sum(map(int, counts[STATS_SHARDS:]))


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


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
        self._timers[key] = (due, customer)

    async def unschedule(self, key: str) -> None:
        self._timers.pop(key, None)

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


__all__ = ["HandoffStore", "MemoryHandoffStore", "RedisHandoffStore", "handoff_store"]
