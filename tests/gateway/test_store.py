"""The store contract, on both implementations: dedup, atomic turn commits, locks, sessions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from gateway.sessions import TranscriptEntry, decode_entry, encode_entry
from gateway.store import Store, StoredSession, TurnCommit, open_store


def turn(
    version: int,
    expected: int,
    outbound: list[bytes] | None = None,
    *,
    data: bytes = b"{}",
    transcript: list[bytes] | None = None,
    ttl: float = 60,
    limit: int = 100,
) -> TurnCommit:
    return TurnCommit(
        session=StoredSession(version=version, data=data),
        expected_version=expected,
        outbound=outbound or [],
        transcript=transcript or [],
        session_ttl=ttl,
        transcript_limit=limit,
    )


@pytest.fixture(params=["redis", "cluster", "sentinel", "memory"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    urls = {"redis": "redis_url", "cluster": "cluster_url", "sentinel": "sentinel_url"}
    name = urls.get(request.param)
    url = "memory://" if name is None else request.getfixturevalue(name)
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
    good = turn(1, 0, [b"r1", b"r2"], transcript=[b"t1"])
    # Wrong token, wrong head, wrong version: nothing changes.
    assert not (await store.commit_turn("api:u", "other", b"event-1", good)).ok
    assert not (await store.commit_turn("api:u", "me", b"event-2", good)).ok
    assert not (await store.commit_turn("api:u", "me", b"event-1", turn(6, 5, [b"r"]))).ok
    assert await store.head("turns", "api:u") == b"event-1"
    assert await store.load_session("api:u") is None
    assert await store.head("sends", "api:u") is None
    assert await store.transcript("api:u") == []
    # Right: popped, saved, queued and recorded together.
    assert (await store.commit_turn("api:u", "me", b"event-1", good)).ok
    assert await store.head("turns", "api:u") is None
    assert await store.load_session("api:u") == good.session
    assert await store.head("sends", "api:u") == b"r1"
    assert await store.transcript("api:u") == [b"t1"]
    # A concurrent writer that read version 0 cannot overwrite version 1.
    await store.enqueue("api:u", "e2", b"event-2", 60)
    stale = turn(1, 0, data=b'{"stale": true}')
    assert not (await store.commit_turn("api:u", "me", b"event-2", stale)).ok
    assert (await store.load_session("api:u")) == good.session


async def test_lock_is_released_only_when_the_list_is_empty(store: Store) -> None:
    assert await store.acquire("turns", "k", "a", 10)
    assert not await store.acquire("turns", "k", "b", 10)
    await store.enqueue("k", "e1", b"x", 60)
    assert await store.release_if_empty("turns", "k", "a") == "not_empty"
    assert await store.release_if_empty("turns", "k", "b") == "lost"
    await store.enqueue("k", "e2", b"y", 60)
    # A commit that leaves work keeps the lock and names the next item ...
    first = await store.commit_turn("k", "a", b"x", turn(1, 0))
    assert (first.ok, first.next) == (True, b"y")
    assert not await store.acquire("turns", "k", "b", 10)
    # ... and the one that empties the list releases it in the same step.
    last = await store.commit_turn("k", "a", b"y", turn(2, 1))
    assert (last.ok, last.next) == (True, None)
    assert await store.acquire("turns", "k", "b", 10)


async def test_claim_locks_and_returns_the_head_in_one_step(store: Store) -> None:
    assert await store.claim("sends", "k", "a", 10) == "empty"
    assert await store.acquire("sends", "k", "b", 10)  # "empty" locked nothing
    await store.release("sends", "k", "b")
    await store.append_outbound("k", [b"m1", b"m2"])
    assert await store.claim("sends", "k", "a", 10) == b"m1"
    assert await store.claim("sends", "k", "b", 10) == "held"
    sent = await store.commit_sent("k", "a", b"m1", "m1", 60)
    assert (sent.ok, sent.next) == (True, b"m2")
    refused = await store.commit_sent("k", "b", b"m2", "m2", 60)  # not b's lock
    assert not refused.ok
    done = await store.commit_sent("k", "a", b"m2", "m2", 60)
    assert (done.ok, done.next) == (True, None)
    assert await store.claim("sends", "k", "b", 10) == "empty"


async def test_an_expired_lock_can_be_taken_over(store: Store) -> None:
    assert await store.acquire("sends", "k", "dead", 0.05)
    await asyncio.sleep(0.07)  # time is the point: just past the 50 ms lease, so it ran out
    assert await store.acquire("sends", "k", "alive", 10)
    assert not await store.renew("sends", "k", "dead", 10)
    assert await store.renew("sends", "k", "alive", 10)


async def test_session_expires_after_its_ttl(store: Store) -> None:
    await store.enqueue("k", "e1", b"x", 60)
    await store.acquire("turns", "k", "t", 10)
    await store.commit_turn("k", "t", b"x", turn(1, 0, transcript=[b"t"], ttl=0.1))
    assert await store.load_session("k") is not None
    assert await store.transcript("k") == [b"t"]
    await asyncio.sleep(0.13)  # time is the point: just past the 100 ms TTL
    assert await store.load_session("k") is None
    assert await store.transcript("k") == []


async def test_transcript_keeps_the_newest_entries(store: Store) -> None:
    for i in range(7):
        await store.enqueue("k", f"e{i}", b"x%d" % i, 60)
        await store.acquire("turns", "k", "t", 10)
        entry = TranscriptEntry(at=float(i), direction="in", channel="api", text=f"m{i}")
        committed = await store.commit_turn(
            "k", "t", b"x%d" % i, turn(i + 1, i, transcript=[encode_entry(entry)], limit=5)
        )
        assert committed.ok
    entries = [decode_entry(raw) for raw in await store.transcript("k")]
    assert [e.text for e in entries] == ["m2", "m3", "m4", "m5", "m6"]


async def test_fence_send_tells_sent_lost_and_ok(store: Store) -> None:
    await store.acquire("sends", "k", "me", 10)
    assert await store.fence_send("k", "me", "m#0", 10) == "ok"
    assert await store.fence_send("k", "other", "m#0", 10) == "lost"
    await store.commit_sent("k", "me", b"not-the-head", "m#0", 60)
    assert await store.fence_send("k", "me", "m#0", 10) == "sent"


async def test_a_conversations_keys_share_one_cluster_slot(redis_url: str) -> None:
    store = open_store(redis_url)
    key = "tel:+14155238886"
    await store.enqueue(key, "e1", b"x", 60)
    await store.acquire("turns", key, "t", 10)
    await store.commit_turn(key, "t", b"x", turn(1, 0, [b"r", b"r2"], transcript=[b"t"]))
    assert await store.claim("sends", key, "s", 10) == b"r"
    await store.commit_sent(key, "s", b"r", "e1#0", 60)  # r2 left: the lock stays
    client = aioredis.Redis.from_url(redis_url)
    keys = [k async for k in client.scan_iter(match="fd:{*")]
    await client.aclose()
    await store.close()
    suffixes = {k.decode().split("}:", 1)[1] for k in keys}
    # issue 13 asked for fewer keys per conversation: dedup ids and sent markers are now one
    # sorted set each (``seen``, ``sent``) instead of a ``seen:<id>`` / ``sent:<key>`` per id
    assert {"seen", "session", "transcript", "sends", "sent", "sends:lock"} <= suffixes
    assert len({key_slot(k) for k in keys}) == 1


async def test_ids_marked_in_the_layout_before_the_upgrade_are_still_recognised(
    redis_url: str,
) -> None:
    """An event accepted, and a reply sent, by the release before (one key per id) is not
    accepted or sent again by this one; new ids go to the per-conversation sets."""
    client = aioredis.Redis.from_url(redis_url)
    key = "api:upgrade"
    prefix = "fd:{" + key + "}:"
    await client.set(prefix + "seen:old-event", "1", px=60_000)
    await client.set(prefix + "sent:old-event#0", "1", px=60_000)
    store = open_store(redis_url)
    try:
        assert not await store.enqueue(key, "old-event", b"x", 60)
        assert await store.enqueue(key, "new-event", b"y", 60)
        assert not await store.enqueue(key, "new-event", b"y", 60)
        await store.acquire("sends", key, "s", 10)
        assert await store.fence_send(key, "s", "old-event#0", 10) == "sent"
        assert await store.fence_send(key, "s", "new-event#0", 10) == "ok"
        keys = {k.decode() async for k in client.scan_iter(match=prefix + "*")}
        assert prefix + "seen:new-event" not in keys
    finally:
        await store.close()
        await client.aclose()
