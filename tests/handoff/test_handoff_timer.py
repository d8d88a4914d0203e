"""The handoff timer is written by the turn's atomic commit: a process that dies right after
committing a handoff can no longer leave it without re-announcements or an abandonment."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.sessions import Session
from gateway.store import Store, StoredSession, TimerChange, TurnCommit, open_store
from tests.handoff.conftest import Client, Desk, until

KEY = "telegram:42"
CUSTOMER = '{"channel":"telegram","user_id":"42","display_name":null,"phone":null}'


@pytest.fixture(params=["redis", "cluster", "memory"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    urls = {"redis": "redis_url", "cluster": "cluster_url"}
    name = urls.get(request.param)
    opened = open_store("memory://" if name is None else request.getfixturevalue(name))
    yield opened
    await opened.close()


async def commit(
    store: Store, n: int, timer: TimerChange | None, *, expected: int | None = None
) -> bool:
    """One turn of conversation KEY: queue an event, lock it, commit it with ``timer``."""
    item = f"event-{n}".encode()
    assert await store.enqueue(KEY, f"e{n}", item, dedup_ttl=60)
    claim = await store.claim("turns", KEY, "token", ttl=10)
    assert claim == item
    version = n - 1 if expected is None else expected
    advance = await store.commit_turn(
        KEY,
        "token",
        item,
        TurnCommit(
            session=StoredSession(version=version + 1, data=b"{}"),
            expected_version=version,
            outbound=[],
            transcript=[],
            session_ttl=60,
            transcript_limit=10,
            timer=timer,
        ),
    )
    if not advance.ok:
        await store.release("turns", KEY, "token")
    return advance.ok


async def test_commit_turn_schedules_and_clears_the_timer(store: Store) -> None:
    hstore = store.handoff_store()
    assert await commit(store, 1, TimerChange(due=1000.0, customer=CUSTOMER))
    assert await hstore.open_count() == 1
    assert await hstore.due(999.0, limit=10) == []
    assert await hstore.due(1000.0, limit=10) == [(KEY, CUSTOMER)]
    assert await commit(store, 2, None)  # a turn that leaves the timer alone
    assert await hstore.open_count() == 1
    assert await commit(store, 3, TimerChange(due=None))
    assert await hstore.open_count() == 0


async def test_a_refused_commit_does_not_touch_the_timer(store: Store) -> None:
    hstore = store.handoff_store()
    assert not await commit(store, 1, TimerChange(due=5.0, customer=CUSTOMER), expected=7)
    assert await hstore.open_count() == 0


async def test_the_process_dying_right_after_the_commit_keeps_the_re_announcement(
    desk: Desk, aiohttp_client: Client, redis_url: str
) -> None:
    """Before, the timer was written after the commit with exceptions swallowed: a process
    that died there (here: nothing after the commit runs) left the handoff unannounced."""
    await desk.open(aiohttp_client, redis_url, reannounce_after=0.4)
    handoff = desk.gateway.handoff
    assert handoff is not None

    async def died(key: str, before: Session | None, after: Session, records: object) -> None:
        return None

    handoff.desk.after_commit = died  # type: ignore[method-assign,assignment]
    await desk.telegram_says("agent")
    card_ts = await desk.card_ts()
    posts = await until(lambda: [p for p in desk.slack.posts() if p.get("reply_broadcast")])
    assert posts[0]["thread_ts"] == card_ts
    assert posts[0]["text"].startswith("Still waiting for an agent")
