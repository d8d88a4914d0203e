"""Turn permits (gateway/admission.py, issue 13): while webhooks arrive a process computes only
``workers.turn_slots_accepting`` turns at once, so acknowledgements do not queue behind many
turns; once they stop, every turn slot computes again. Waiting for a permit loses and reorders
nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from dialogs.base import Outcome, Reply, SystemEvent, TurnContext
from gateway.admission import TurnPermits
from gateway.store.redis import GROUP, RedisStore
from tests.conftest import api_body, signed_headers
from tests.gateway.test_admission import _served, _settings
from tests.support.fake_callback import FakeCallback
from tests.support.waiting import until


class Watched:
    """Something to wait on until a condition over it holds (no fixed sleeps)."""

    def __init__(self) -> None:
        self.changed = asyncio.Event()

    async def until(self, condition: Callable[[], bool], timeout: float = 20) -> None:
        async def wait() -> None:
            while not condition():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), timeout)


class Turns(Watched):
    """Turns that each hold a permit until ``release``; ``count`` of them got one."""

    def __init__(self, permits: TurnPermits) -> None:
        super().__init__()
        self.permits = permits
        self.release = asyncio.Event()
        self.count = 0
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, n: int) -> None:
        self.tasks += [asyncio.create_task(self._turn()) for _ in range(n)]

    async def _turn(self) -> None:
        async with self.permits:
            self.count += 1
            self.changed.set()
            await self.release.wait()

    async def finish(self) -> None:
        self.release.set()
        await asyncio.gather(*self.tasks)


async def test_every_slot_computes_while_no_webhook_arrives() -> None:
    turns = Turns(TurnPermits(3, 1))
    turns.start(4)
    await turns.until(lambda: turns.count == 3)
    assert turns.permits.held == 3  # the fourth waits for a permit
    await turns.finish()
    assert turns.count == 4 and turns.permits.held == 0


async def test_fewer_turns_compute_while_webhooks_arrive_and_all_once_they_stop() -> None:
    permits = TurnPermits(3, 1)
    turns = Turns(permits)
    permits.arrived()
    turns.start(3)
    await turns.until(lambda: turns.count == 1)
    assert permits.limit == 1
    # nobody hands a permit back: the window passing with no new webhook lets the others in
    await turns.until(lambda: turns.count == 3)
    assert permits.limit == 3
    await turns.finish()


async def test_a_turn_cancelled_while_waiting_for_a_permit_holds_none() -> None:
    permits = TurnPermits(1, 1)
    async with permits:
        waiting = asyncio.create_task(permits.__aenter__())
        await asyncio.sleep(0)  # let it start waiting
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
    assert permits.held == 0
    async with permits:  # and the permit is there for the next turn
        assert permits.held == 1


class GatedDialog(Watched):
    """Echoes; every turn waits for ``gate``; counts the turns in progress."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.running = 0
        self.most = 0

    async def respond(self, state: Mapping[str, Any], event: Any, context: TurnContext) -> Outcome:
        self.running += 1
        self.most = max(self.most, self.running)
        self.changed.set()
        try:
            await self.gate.wait()
        finally:
            self.running -= 1
            self.changed.set()
        text = getattr(event, "text", "") if not isinstance(event, SystemEvent) else ""
        return Outcome(state=dict(state), replies=[Reply(text=f"echo: {text}")])


async def test_webhooks_arriving_hold_turns_to_the_accepting_slots_then_all_slots_compute(
    redis_url: str, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    settings = _settings(redis_url, url, turn_slots=4, turn_slots_accepting=1)
    dialog = GatedDialog()
    gateway, runner, base = await _served(settings, dialog)
    assert isinstance(gateway.store, RedisStore)
    redis = gateway.store.redis
    posted: list[str] = []
    arriving = asyncio.Event()

    async def post(client: aiohttp.ClientSession, conversation: str, text: str) -> None:
        body = api_body(text, conversation=conversation, user=f"u-{conversation}")
        async with client.post(
            f"{base}/webhooks/api", data=body, headers=signed_headers(body)
        ) as resp:
            assert resp.status == 200
        posted.append(text)

    async def keep_arriving(client: aiohttp.ClientSession) -> None:
        n = 0
        while arriving.is_set():  # a webhook at least every few ms, well within the window
            await post(client, f"later-{n % 8}", f"later {n}")
            n += 1

    try:
        async with aiohttp.ClientSession() as client:
            arriving.set()
            for c in range(4):
                await post(client, f"held-{c}", f"held {c}")
            stream = asyncio.create_task(keep_arriving(client))

            async def claimed() -> bool:
                return (await redis.xpending("fd:lane:turns", GROUP))["pending"] >= 4

            # the four conversations are claimed (four slots), webhooks still arriving ...
            await until(claimed, what="the four conversations claimed")
            await dialog.until(lambda: dialog.running >= 1)
            seen = len(posted)  # the other three get every chance to start meanwhile
            await until(lambda: len(posted) >= seen + 20, what="20 more webhooks")
            assert dialog.most == 1, "more turns computed than turn_slots_accepting"
            # ... and once they stop, the other three start without any turn finishing
            arriving.clear()
            await stream
            await dialog.until(lambda: dialog.running == 4)
            dialog.gate.set()
            replies = await fake.wait_for(len(posted), timeout=30)
        assert sorted(r["text"] for r in replies) == sorted(f"echo: {t}" for t in posted)
    finally:
        dialog.gate.set()
        await gateway.stop()
        await runner.cleanup()
