"""A gateway stops even when a Redis call swallows the cancellation meant to end it.

On Python 3.11 redis-py sends each command inside ``asyncio.wait_for``, which drops a
cancellation that arrives as the send completes (CPython gh-86296): the cancelled call returns
normally. A lane's acknowledgement loop cancelled that way went round again and waited for the
next batch forever, so ``Gateway.stop()`` never returned (the flooding-sender test in
test_rate_limits.py hung to its timeout in a few runs out of ten). Here the store's ``ack``
does deterministically what redis-py does by chance: the first batch is held on the wire until
the stop has cancelled it, and then it completes as if it had never been cancelled.
"""

from __future__ import annotations

import asyncio
import time

from common.messages import ConversationRef, CustomerMessage, CustomerRef
from common.tasks import cancel_and_wait
from dialogs.echo import EchoDialog
from frontdesk.app import build_gateway, enabled_channels
from frontdesk.config import Settings
from gateway.store import Lane
from gateway.store.redis import RedisStore
from tests.conftest import API_SECRET
from tests.support.fake_callback import FakeCallback
from tests.support.waiting import until


class CancelSwallowingStore(RedisStore):
    """The first ``ack`` waits until it is cancelled, then finishes and returns normally."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.held = asyncio.Event()  # the first batch is on the wire
        self.cancelled = asyncio.Event()  # ... and its caller was cancelled
        self._first = True

    async def ack(self, lane: Lane, *ticket_ids: str) -> None:
        if not self._first:
            return await super().ack(lane, *ticket_ids)
        self._first = False
        self.held.set()
        try:
            await asyncio.Event().wait()  # the send in flight
        except asyncio.CancelledError:
            self.cancelled.set()  # dropped, as asyncio.wait_for drops it on Python 3.11
        await super().ack(lane, *ticket_ids)


async def test_stop_returns_when_a_cancelled_acknowledgement_batch_carries_on(
    redis_url: str, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    settings = Settings.model_validate(
        {
            "store": {"url": redis_url},
            "channels": {"api": {"secret": API_SECRET, "callback_url": url}},
        }
    )
    store = CancelSwallowingStore(redis_url)
    gateway = build_gateway(
        settings, dialog=EchoDialog(), channels=enabled_channels(settings), store=store
    )
    await gateway.start()
    stopping: asyncio.Task[None] | None = None
    try:
        message = CustomerMessage(
            event_id="e-1",
            conversation=ConversationRef(channel="api", chat_id="c"),
            customer=CustomerRef(channel="api", user_id="u"),
            text="hello",
            received_at=time.time(),
        )
        assert await gateway.ingest.accept(message) == "accepted"
        assert [r["text"] for r in await fake.wait_for(1)] == ["echo: hello"]
        await until(store.held.is_set, what="an acknowledgement batch on the wire")
        stopping = asyncio.create_task(gateway.stop())
        await until(store.cancelled.is_set, what="the stop cancelling the batch in flight")
        async with asyncio.timeout(30):  # before the fix: waited forever
            await asyncio.shield(stopping)
        assert [r["text"] for r in fake.delivered] == ["echo: hello"]
    finally:
        if stopping is None:
            await gateway.stop()
        elif not stopping.done():
            await cancel_and_wait(stopping)
