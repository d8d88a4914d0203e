"""The handoff store on Redis (see ``gateway.store.handoff``).

Per-conversation keys carry the conversation's hash tag (``fd:{<key>}:…``); the thread map, the
schedule and the statistics are global keys (``fd:handoff:…``). Every method raises
``StoreUnavailable`` when Redis cannot be reached.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from typing import Any

from gateway.store.handoff import (
    EVENTS_MAXLEN,
    LOG_DELAY,
    MAP_TTL,
    RELAY_TTL,
    day_of,
    days_between,
)
from gateway.store.redis import TIMER_CUSTOMERS, TIMERS, _translated, conversation_key


def _tag(key: str) -> str:
    return conversation_key(key, "")


class RedisHandoffStore:
    THREADS = "fd:handoff:thread:"
    TIMERS = TIMERS
    WHO = TIMER_CUSTOMERS
    EVENTS = "fd:handoff:events"

    def __init__(self, redis: Any, *, retention: float | None = None) -> None:
        self.redis = redis
        # Records about a customer (cards, thread maps, relays) never outlive the retention.
        limit = MAP_TTL if retention is None else max(1, int(retention))
        self.map_ttl = min(MAP_TTL, limit)
        self.relay_ttl = min(RELAY_TTL, limit)

    @_translated
    async def record_card(self, key: str, card: str, ts: str, customer: str) -> None:
        mapping = json.dumps({"key": key, "customer": json.loads(customer)})
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(f"{_tag(key)}card:{card}", ts, ex=self.map_ttl)
            pipe.set(self.THREADS + ts, mapping, ex=self.map_ttl)
            await pipe.execute()

    @_translated
    async def card_ts(self, key: str, card: str) -> str | None:
        value = await self.redis.get(f"{_tag(key)}card:{card}")
        return None if value is None else _s(value)

    @_translated
    async def thread(self, ts: str) -> tuple[str, str] | None:
        value = await self.redis.get(self.THREADS + ts)
        if value is None:
            return None
        data = json.loads(value)
        return str(data["key"]), json.dumps(data["customer"])

    @_translated
    async def record_relay(self, key: str, platform_id: str, agent_ts: str) -> None:
        await self.redis.set(f"{_tag(key)}relay:{platform_id}", agent_ts, ex=self.relay_ttl)

    @_translated
    async def relay(self, key: str, platform_id: str) -> str | None:
        value = await self.redis.get(f"{_tag(key)}relay:{platform_id}")
        return None if value is None else _s(value)

    @_translated
    async def schedule(self, key: str, due: float, customer: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self.TIMERS, {key: due})
            pipe.hset(self.WHO, key, customer)
            await pipe.execute()

    @_translated
    async def unschedule(self, key: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrem(self.TIMERS, key)
            pipe.hdel(self.WHO, key)
            await pipe.execute()

    @_translated
    async def due(self, now: float, limit: int) -> list[tuple[str, str]]:
        keys = [_s(k) for k in await self.redis.zrangebyscore(self.TIMERS, 0, now, 0, limit)]
        if not keys:
            return []
        # XX: a conversation unscheduled meanwhile is not brought back.
        await self.redis.zadd(self.TIMERS, {k: now + 60 for k in keys}, xx=True)
        who = await self.redis.hmget(self.WHO, keys)
        return [(k, _s(c)) for k, c in zip(keys, who, strict=True) if c is not None]

    @_translated
    async def open_count(self) -> int:
        return int(await self.redis.zcard(self.TIMERS))

    @_translated
    async def add_pickup(self, queue: str, seconds: float, keep: int) -> None:
        name = f"fd:handoff:pickups:{queue}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.lpush(name, f"{seconds:.3f}")
            pipe.ltrim(name, 0, keep - 1)
            await pipe.execute()

    @_translated
    async def pickups(self, queue: str) -> list[float]:
        return [float(v) for v in await self.redis.lrange(f"fd:handoff:pickups:{queue}", 0, -1)]

    @_translated
    async def log(self, record: dict[str, Any]) -> None:
        # Redis picks the id (the time the record arrives): records of two conversations may
        # arrive out of the order of their event times, and an id taken from the event time
        # would then be refused as smaller than the stream's last one.
        await self.redis.xadd(
            self.EVENTS, {"r": json.dumps(record)}, maxlen=EVENTS_MAXLEN, approximate=True
        )

    @_translated
    async def records(self, since: float, until: float) -> list[dict[str, Any]]:
        entries = await self.redis.xrange(
            self.EVENTS,
            min=str(int((since - LOG_DELAY) * 1000)),
            max=str(int((until + LOG_DELAY) * 1000)),
        )
        records = (json.loads(fields[b"r"]) for _, fields in entries)
        return [r for r in records if since <= float(r["at"]) <= until]

    @_translated
    async def seen(self, key: str, at: float, handed_off: bool) -> None:
        day, shard = day_of(at), stats_shard(key)
        async with self.redis.pipeline(transaction=False) as pipe:
            for kind in ("conversations", "handed_off") if handed_off else ("conversations",):
                name = stats_key(kind, shard, day)
                pipe.pfadd(name, key)
                pipe.expire(name, 400 * 24 * 3600)
            await pipe.execute()

    @_translated
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


# The daily conversation counters (one PFADD per turn) are spread over this many hash slots,
# so that on Redis Cluster no one node takes every turn's counter update.
STATS_SHARDS = 16


def stats_shard(key: str) -> int:
    return zlib.crc32(key.encode()) % STATS_SHARDS


def stats_key(kind: str, shard: int, day: str) -> str:
    return f"fd:{{stats:{shard}}}:{kind}:{day}"


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
