"""Admission control and batched acknowledgements (issue 13): a process computes at most
``workers.turn_slots`` turns at once and reads no more tickets than that, so the rest waits in
Redis, webhooks are still accepted meanwhile; a batch of acknowledgements lost with its process
leaves tickets that are reclaimed harmlessly (nothing answered twice)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiohttp import web

from common.messages import ConversationRef, CustomerMessage, CustomerRef
from dialogs.base import Outcome, Reply, SystemEvent, TurnContext
from dialogs.echo import EchoDialog
from frontdesk.app import build_gateway, enabled_channels
from frontdesk.config import Settings
from gateway import http
from gateway.runtime import Gateway
from gateway.store import Lane, StoreUnavailable
from gateway.store.redis import GROUP, RedisStore
from tests.conftest import API_SECRET, api_body, signed_headers
from tests.support.fake_callback import FakeCallback
from tests.support.serve import serve
from tests.support.waiting import drained


class GatedDialog:
    """Echoes, but every turn waits for ``gate``; counts the turns in progress."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.two_running = asyncio.Event()
        self.running = 0
        self.most = 0

    async def respond(
        self, state: Mapping[str, Any], event: CustomerMessage | SystemEvent, context: TurnContext
    ) -> Outcome:
        self.running += 1
        self.most = max(self.most, self.running)
        if self.running >= 2:
            self.two_running.set()
        try:
            await self.gate.wait()
        finally:
            self.running -= 1
        text = event.text if isinstance(event, CustomerMessage) else ""
        return Outcome(state=dict(state), replies=[Reply(text=f"echo: {text}")])


def _settings(redis_url: str, callback_url: str, **workers: float) -> Settings:
    return Settings.model_validate(
        {
            "store": {"url": redis_url},
            "workers": {"lease": 2, "reclaim_idle": 1, **workers},
            "limits": {"enabled": False},
            "channels": {"api": {"secret": API_SECRET, "callback_url": callback_url}},
        }
    )


async def _served(settings: Settings, dialog: Any) -> tuple[Gateway, web.AppRunner, str]:
    """A started gateway with ``dialog``, its webhooks served over HTTP at the returned base."""
    gateway = build_gateway(settings, dialog=dialog, channels=enabled_channels(settings))
    app = web.Application()
    http.mount(app, gateway)
    runner, base = await serve(app)
    await gateway.start()
    return gateway, runner, base


async def test_turns_beyond_the_slots_wait_in_redis_while_webhooks_are_accepted(
    redis_url: str, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    settings = _settings(redis_url, url, turn_slots=2)
    dialog = GatedDialog()
    gateway, runner, base = await _served(settings, dialog)
    try:
        async with aiohttp.ClientSession() as client:
            for c in range(10):  # ten conversations; the turns block until the gate opens
                body = api_body(f"m{c}", conversation=f"slot-{c}", user=f"slot-u{c}")
                async with client.post(
                    f"{base}/webhooks/api", data=body, headers=signed_headers(body)
                ) as resp:
                    assert resp.status == 200  # accepted although every slot is busy
        await asyncio.wait_for(dialog.two_running.wait(), timeout=20)
        assert isinstance(gateway.store, RedisStore)
        stream = "fd:lane:turns"
        taken = await gateway.store.redis.xpending(stream, GROUP)
        assert taken["pending"] <= 2, "the process read more tickets than it can work on"
        assert await gateway.store.depth("turns") == 10  # the rest waits in Redis
        dialog.gate.set()
        replies = await fake.wait_for(10, timeout=20)
        assert sorted(r["text"] for r in replies) == sorted(f"echo: m{c}" for c in range(10))
        assert dialog.most == 2
    finally:
        dialog.gate.set()
        await gateway.stop()
        await runner.cleanup()


class LostAcks:
    """A store whose acknowledgements never reach Redis: the process died before its batch
    went out (the tickets stay pending)."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self.lost = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def ack(self, lane: Lane, *ticket_ids: str) -> None:
        self.lost += len(ticket_ids)
        raise StoreUnavailable("the process died before this batch was sent")


async def test_a_lost_batch_of_acknowledgements_is_reclaimed_without_a_second_reply(
    redis_url: str, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    settings = _settings(redis_url, url)
    store = LostAcks(RedisStore(redis_url))
    first = build_gateway(
        settings,
        dialog=EchoDialog(),
        channels=enabled_channels(settings),
        store=store,  # type: ignore[arg-type]
    )
    await first.start()
    for c in range(3):
        event = CustomerMessage(
            event_id=f"batch-{c}",
            conversation=ConversationRef(channel="api", chat_id=f"batch-{c}"),
            customer=CustomerRef(channel="api", user_id=f"batch-u{c}"),
            text=f"m{c}",
        )
        await first.ingest.accept(event)
    await fake.wait_for(3, timeout=20)
    await first.stop()
    assert store.lost >= 3
    assert await first.store.depth("turns") > 0  # finished, but never acknowledged

    second = build_gateway(settings, dialog=EchoDialog(), channels=enabled_channels(settings))
    await second.start()
    try:
        # reclaimed (after reclaim_idle), found already answered, acknowledged: every lane
        # empty, and the process idle, so a second reply would have been sent by now
        await drained(second.store, timeout=60)
        await drained(second)
        assert await second.store.depth("turns") == 0
        assert sorted(r["text"] for r in fake.delivered) == ["echo: m0", "echo: m1", "echo: m2"]
    finally:
        await second.stop()
