"""The store contract, on both implementations: dedup, atomic turn commits, locks, sessions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from gateway.sessions import Session, TranscriptEntry, decode_session, encode_session
from gateway.store import Store, StoredSession, open_store


@pytest.fixture(params=["redis", "memory"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    url = "memory://" if request.param == "memory" else request.getfixturevalue("redis_url")
    s = open_store(url)
    yield s
    await s.close()


async def test_an_event_id_is_claimed_once(store: Store) -> None:
    results = await asyncio.gather(
        *(store.enqueue("api:u", "evt-1", b"payload", 60) for _ in range(10))
    )
    assert sorted(results) == [False] * 9 + [True]
    assert await store.head("turns", "api:u") == b"payload"


async def test_turn_commit_is_all_or_nothing(store: Store) -> None:
    await store.enqueue("api:u", "e1", b"event-1", 60)
    assert await store.acquire("turns", "api:u", "me", 10)
    session = StoredSession(version=1, data=b"{}")
    # Wrong token, wrong head, wrong version: nothing changes.
    assert not await store.commit_turn("api:u", "other", b"event-1", session, 0, [b"r"], 60)
    assert not await store.commit_turn("api:u", "me", b"event-2", session, 0, [b"r"], 60)
    assert not await store.commit_turn("api:u", "me", b"event-1", session, 5, [b"r"], 60)
    assert await store.head("turns", "api:u") == b"event-1"
    assert await store.load_session("api:u") is None
    assert await store.head("sends", "api:u") is None
    # Right: popped, saved and queued together.
    assert await store.commit_turn("api:u", "me", b"event-1", session, 0, [b"r1", b"r2"], 60)
    assert await store.head("turns", "api:u") is None
    assert await store.load_session("api:u") == session
    assert await store.head("sends", "api:u") == b"r1"
    # A concurrent writer that read version 0 cannot overwrite version 1.
    await store.enqueue("api:u", "e2", b"event-2", 60)
    stale = StoredSession(version=1, data=b'{"stale": true}')
    assert not await store.commit_turn("api:u", "me", b"event-2", stale, 0, [], 60)
    assert (await store.load_session("api:u")) == session


async def test_lock_is_released_only_when_the_list_is_empty(store: Store) -> None:
    assert await store.acquire("turns", "k", "a", 10)
    assert not await store.acquire("turns", "k", "b", 10)
    await store.enqueue("k", "e1", b"x", 60)
    assert await store.release_if_empty("turns", "k", "a") == "not_empty"
    assert await store.release_if_empty("turns", "k", "b") == "lost"
    assert await store.commit_turn("k", "a", b"x", StoredSession(version=1, data=b"{}"), 0, [], 60)
    assert await store.release_if_empty("turns", "k", "a") == "released"
    assert await store.acquire("turns", "k", "b", 10)


async def test_an_expired_lock_can_be_taken_over(store: Store) -> None:
    assert await store.acquire("sends", "k", "dead", 0.05)
    await asyncio.sleep(0.1)
    assert await store.acquire("sends", "k", "alive", 10)
    assert not await store.renew("sends", "k", "dead", 10)
    assert await store.renew("sends", "k", "alive", 10)


async def test_session_expires_after_its_ttl(store: Store) -> None:
    await store.enqueue("k", "e1", b"x", 60)
    await store.acquire("turns", "k", "t", 10)
    await store.commit_turn("k", "t", b"x", StoredSession(version=1, data=b"{}"), 0, [], 0.1)
    assert await store.load_session("k") is not None
    await asyncio.sleep(0.25)
    assert await store.load_session("k") is None


def test_transcript_is_capped_to_the_newest_entries() -> None:
    session = Session(key="k")
    for i in range(7):
        entry = TranscriptEntry(at=float(i), direction="in", channel="api", text=f"m{i}")
        session = session.with_entries([entry], limit=5)
    assert [e.text for e in session.transcript] == ["m2", "m3", "m4", "m5", "m6"]
    assert decode_session(encode_session(session)) == session


async def test_a_conversations_keys_share_one_cluster_slot(redis_url: str) -> None:
    store = open_store(redis_url)
    key = "tel:+14155238886"
    await store.enqueue(key, "e1", b"x", 60)
    await store.acquire("turns", key, "t", 10)
    await store.commit_turn(key, "t", b"x", StoredSession(version=1, data=b"{}"), 0, [b"r"], 60)
    await store.acquire("sends", key, "s", 10)
    await store.commit_sent(key, "s", b"r", "e1#0", 60)
    client = aioredis.Redis.from_url(redis_url)
    keys = [k async for k in client.scan_iter(match="fd:{*")]
    await client.aclose()
    await store.close()
    suffixes = {k.decode().split("}:", 1)[1] for k in keys}
    assert {"seen:e1", "session", "sent:e1#0", "sends:lock"} <= suffixes
    assert len({key_slot(k) for k in keys}) == 1
