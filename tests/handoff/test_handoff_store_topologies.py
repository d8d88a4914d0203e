"""The handoff store's global keys on one server and on Redis Cluster: the daily conversation
counters spread over 16 slots still add up (PFCOUNT cannot span slots, nor run in a cluster
pipeline), timers, thread maps, pickups and the statistics log work on both."""

from __future__ import annotations

import json
import time

import pytest

from gateway.handoff.store import handoff_store
from gateway.store import open_store
from gateway.store.redis_handoff import STATS_SHARDS, stats_shard


@pytest.mark.parametrize("kind", ["redis", "cluster"])
async def test_global_handoff_keys_on_each_topology(
    kind: str, request: pytest.FixtureRequest
) -> None:
    store = open_store(request.getfixturevalue(f"{kind}_url"))
    hstore = handoff_store(store)
    now = time.time()
    try:
        keys = [f"api:user-{n}" for n in range(40)]
        assert len({stats_shard(k) for k in keys}) > STATS_SHARDS // 2  # really spread
        for n, key in enumerate(keys):
            await hstore.seen(key, now, handed_off=n % 4 == 0)
            await hstore.seen(key, now - 86400, handed_off=False)  # the same people yesterday
        assert await hstore.containment(now - 86400, now) == (40, 10)
        assert await hstore.containment(now - 3 * 86400, now - 2 * 86400) == (0, 0)

        customer = json.dumps({"name": "Ann"})
        await hstore.schedule("api:user-1", now - 1, customer)
        assert await hstore.due(now, 10) == [("api:user-1", customer)]
        await hstore.record_card("api:user-1", "card-1", "111.222", customer)
        assert await hstore.thread("111.222") == ("api:user-1", customer)
        assert await hstore.card_ts("api:user-1", "card-1") == "111.222"
        await hstore.add_pickup("billing", 12.5, 10)
        assert await hstore.pickups("billing") == [12.5]
        await hstore.log({"at": now, "type": "handoff"})
        assert [r["type"] for r in await hstore.records(now - 1, now + 1)] == ["handoff"]
    finally:
        await store.close()
