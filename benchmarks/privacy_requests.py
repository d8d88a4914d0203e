"""Time of ``customer export`` and ``customer erase`` in a populated Redis.

  python benchmarks/privacy_requests.py --redis redis://127.0.0.1:6379/15 [--customers N]

Fills the given (scratch!) database with N customers' keys as the gateway lays them out
(session, transcript of 50 entries, 10 dedup ids, 10 sent marks, a handoff card and its thread
map, a dead letter), then times exporting and erasing one of them, and one hourly retention
sweep. The conversation keys have no index, so export and erase SCAN the key space with a
match pattern: their time grows with the number of keys in the database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis.asyncio as aioredis

from gateway.privacy import erase_customer, export_customer, resolve
from gateway.privacy.retention import sweep, trim_old_entries
from gateway.store.redis import DLQ, RedisStore, conversation_key


async def fill(client: aioredis.Redis, customers: int) -> None:
    now = time.time()
    for start in range(0, customers, 500):
        async with client.pipeline(transaction=False) as pipe:
            for n in range(start, min(customers, start + 500)):
                key = f"tel:+1415{n:07d}"
                pipe.hset(conversation_key(key, "session"), mapping={"v": 1, "data": "{}"})
                entries = [json.dumps({"at": now, "text": f"t{i}"}) for i in range(50)]
                pipe.rpush(conversation_key(key, "transcript"), *entries)
                for i in range(10):
                    pipe.set(conversation_key(key, f"seen:e{i}"), 1)
                    pipe.set(conversation_key(key, f"sent:m{i}"), 1)
                pipe.set(conversation_key(key, "card:c1"), f"{n}.1")
                pipe.set(f"fd:handoff:thread:{n}.1", json.dumps({"key": key, "customer": {}}))
                letter = {"id": f"d{n}", "key": key, "payload": "{}", "error": "x"}
                pipe.hset(DLQ, f"d{n}", json.dumps({**letter, "attempts": 1, "failed_at": now}))
            await pipe.execute()


async def main(url: str, customers: int) -> None:
    client = aioredis.Redis.from_url(url)
    await client.flushdb()
    await fill(client, customers)
    print(f"{customers} customers, {await client.dbsize()} keys")
    store = RedisStore(url)
    customer = resolve(f"+1415{customers // 2:07d}")
    t0 = time.perf_counter()
    report = await export_customer(store, customer)
    t1 = time.perf_counter()
    erasure = await erase_customer(store, customer)
    t2 = time.perf_counter()
    await sweep(client, 90 * 86400)
    await trim_old_entries(client, 90 * 86400)
    t3 = time.perf_counter()
    entries = len(report["data"]["conversation"][customer.canonical]["transcript"])
    print(f"export: {t1 - t0:.3f} s ({entries} transcript entries)")
    print(f"erase:  {t2 - t1:.3f} s ({erasure.removed} items removed)")
    print(f"retention sweep (nothing old): {t3 - t2:.3f} s")
    await client.flushdb()
    await client.aclose()
    await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", required=True, help="a scratch database: it is flushed")
    parser.add_argument("--customers", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(main(args.redis, args.customers))
