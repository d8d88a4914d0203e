"""Webhooks that arrive together share one Redis round trip, and each still gets its own
answer: deduplicated once, queued in order, refused (503) together when the round trip fails."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from common.batching import GroupCommit
from common.errors import StoreUnavailable
from gateway.store import open_store
from gateway.store.redis import RedisStore, conversation_key


async def test_concurrent_calls_share_round_trips_and_get_their_own_results() -> None:
    sent: list[list[int]] = []

    async def send(items: Sequence[int]) -> list[int]:
        sent.append(list(items))
        await asyncio.sleep(0)  # on the wire: the next batch gathers meanwhile
        return [i * 10 for i in items]

    group: GroupCommit[int, int] = GroupCommit(send, max_batch=16)
    results = await asyncio.gather(*(group.submit(i) for i in range(100)))
    assert results == [i * 10 for i in range(100)]
    assert [i for batch in sent for i in batch] == list(range(100)), "order kept"
    assert len(sent) < 100 and max(len(b) for b in sent) <= 16
    # alone, a call goes out at once, by itself
    assert await group.submit(7) == 70
    assert sent[-1] == [7]


async def test_a_failed_round_trip_fails_each_call_in_it_and_the_next_one_works() -> None:
    broken = True

    async def send(items: Sequence[str]) -> list[str]:
        await asyncio.sleep(0)
        if broken:
            raise ConnectionError("redis is down")
        return [s.upper() for s in items]

    group: GroupCommit[str, str] = GroupCommit(send)
    outcomes = await asyncio.gather(*(group.submit(s) for s in "abc"), return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in outcomes)
    broken = False
    assert await asyncio.gather(*(group.submit(s) for s in "de")) == ["D", "E"]


async def test_a_caller_that_gives_up_does_not_hold_up_the_others() -> None:
    release = asyncio.Event()

    async def send(items: Sequence[int]) -> list[int]:
        await release.wait()
        return list(items)

    group: GroupCommit[int, int] = GroupCommit(send)
    impatient = asyncio.create_task(group.submit(1))
    patient = asyncio.create_task(group.submit(2))
    await asyncio.sleep(0)
    impatient.cancel()
    release.set()
    assert await patient == 2
    with pytest.raises(asyncio.CancelledError):
        await impatient


async def test_a_burst_of_webhooks_is_queued_once_each_in_order(any_redis_url: str) -> None:
    store = open_store(any_redis_url)
    assert isinstance(store, RedisStore)
    try:
        # 20 conversations x 10 events, each delivered twice (a platform retry), all at once
        calls = [
            (f"api:c{c}", f"c{c}-e{e}", f"c{c} m{e}".encode())
            for e in range(10)
            for c in range(20)
            for _ in range(2)
        ]
        fresh = await asyncio.gather(*(store.enqueue(k, i, p, 60) for k, i, p in calls))
        assert store._pipelines.batches < len(calls) // 4, "they did not share round trips"
        firsts = {}
        for (_, event_id, _), new in zip(calls, fresh, strict=True):
            firsts.setdefault(event_id, []).append(new)
        assert all(flags == [True, False] for flags in firsts.values())
        for c in range(20):
            inbox = await store.redis.lrange(conversation_key(f"api:c{c}", "turns"), 0, -1)
            assert inbox == [f"c{c} m{e}".encode() for e in range(10)]
        assert await store.depth("turns") == len(calls)  # a ticket per delivery
    finally:
        await store.close()


async def test_webhooks_in_a_batch_are_refused_together_while_redis_is_down() -> None:
    store = open_store("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        outcomes = await asyncio.gather(
            *(store.enqueue(f"api:c{n}", f"e{n}", b"x", 60) for n in range(8)),
            return_exceptions=True,
        )
        assert all(isinstance(o, StoreUnavailable) for o in outcomes)
    finally:
        await store.close()
