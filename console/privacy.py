"""The console as a customer data source (``frontdesk customer export|erase``): its summary and
per-turn notes of the customer's conversations (``fd:{<key>}:console…``, erased with the
conversation's keys too), and the customer's entries in its filter indexes, daily activity sets
and URL ids. The per-hour counters and HyperLogLogs hold no identifier and stay."""

from __future__ import annotations

import json
from typing import Any

from console import keys as k
from console.recorder import ref_of
from gateway.privacy.core import Context, Customer, register


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def _indexes(redis: Any) -> list[str]:
    names = []
    for dimension in k.DIMENSIONS:
        for value in await redis.smembers(k.INDEX_NAMES + dimension):
            names.append(k.index_key(dimension, _s(value)))
    names += [_s(n) async for n in redis.scan_iter(match=k.ACTIVE + "*", count=1000)]
    names.append(k.LAST)
    return names


class ConsoleSource:
    name = "console"

    async def export(self, ctx: Context, customer: Customer) -> Any:
        out: dict[str, Any] = {}
        for key in customer.keys:
            summary = await ctx.redis.hgetall(k.summary_key(key))
            notes = await ctx.redis.lrange(k.notes_key(key), 0, -1)
            if summary or notes:
                out[key] = {
                    "summary": {_s(a): _s(b) for a, b in summary.items()},
                    "turns": [json.loads(n) for n in notes],
                }
        return out

    async def erase(self, ctx: Context, customer: Customer) -> int:
        removed = 0
        indexes = await _indexes(ctx.redis)
        for key in customer.keys:
            async with ctx.redis.pipeline(transaction=False) as pipe:
                for name in indexes:
                    pipe.zrem(name, key)
                pipe.delete(k.REFS + ref_of(key), k.summary_key(key), k.notes_key(key))
                removed += sum(int(n) for n in await pipe.execute())
        return removed


register(ConsoleSource())
