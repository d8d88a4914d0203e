"""Several gateway processes sharing one Redis: order, no loss, no doubles, crash recovery; the
first two on one server, on Redis Cluster and on a Sentinel-managed primary (``any_redis_url``)."""

from __future__ import annotations

import asyncio
import collections
import signal
import sys
from pathlib import Path

import aiohttp

from common.messages import ConversationRef, CustomerMessage, CustomerRef
from dialogs.echo import EchoDialog
from frontdesk.app import build_gateway, enabled_channels
from frontdesk.config import Settings
from gateway.ingest import Ingest
from gateway.metrics import Metrics
from gateway.sessions import decode_entry
from gateway.store import open_store
from tests.conftest import API_SECRET, api_body, signed_headers
from tests.support.fake_callback import FakeCallback
from tests.support.processes import gateway_config, running_gateway, spawn
from tests.support.waiting import drained, until


async def test_two_processes_keep_each_conversation_in_order(
    tmp_path: Path, any_redis_url: str, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    config_a, port_a = gateway_config(tmp_path, store_url=any_redis_url, callback_url=url)
    config_b, port_b = gateway_config(tmp_path, store_url=any_redis_url, callback_url=url)
    conversations, per_conversation = 20, 10
    with (
        running_gateway(config_a, port_a, API_SECRET),
        running_gateway(config_b, port_b, API_SECRET),
    ):
        async with aiohttp.ClientSession() as http:

            async def converse(c: int) -> None:
                for i in range(per_conversation):
                    port = (port_a, port_b)[(c + i) % 2]  # alternate between the processes
                    body = api_body(f"c{c} m{i}", conversation=f"conv-{c}", user=f"user-{c}")
                    async with http.post(
                        f"http://127.0.0.1:{port}/webhooks/api",
                        data=body,
                        headers=signed_headers(body),
                    ) as resp:
                        assert resp.status == 200

            await asyncio.gather(*(converse(c) for c in range(conversations)))
        total = conversations * per_conversation
        replies = await fake.wait_for(total, timeout=60)
        store = open_store(any_redis_url)  # the two processes' queues, seen from outside
        try:
            await drained(store)
        finally:
            await store.close()
        assert len(fake.delivered) == total, "a reply was sent twice"
    by_conversation: dict[str, list[str]] = collections.defaultdict(list)
    for reply in replies:
        by_conversation[reply["conversation_id"]].append(reply["text"])
    assert len(by_conversation) == conversations
    for c in range(conversations):
        assert by_conversation[f"conv-{c}"] == [f"echo: c{c} m{i}" for i in range(per_conversation)]


def _settings(redis_url: str, callback_url: str) -> Settings:
    return Settings.model_validate(
        {
            "store": {"url": redis_url},
            "workers": {"lease": 1, "reclaim_idle": 1},
            "channels": {"api": {"secret": API_SECRET, "callback_url": callback_url}},
        }
    )


async def test_work_of_a_killed_worker_is_reclaimed_and_answered_once(
    tmp_path: Path, any_redis_url: str, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    config, _ = gateway_config(
        tmp_path, store_url=any_redis_url, callback_url=url, lease=1, reclaim_idle=1
    )
    store = open_store(any_redis_url)
    event = CustomerMessage(
        event_id="crash-1",
        conversation=ConversationRef(channel="api", chat_id="c-crash"),
        customer=CustomerRef(channel="api", user_id="u-crash"),
        text="are you there?",
    )
    assert await Ingest(store, Metrics(), dedup_ttl=60).accept(event) == "accepted"

    marker = tmp_path / "turn-started"
    doomed = spawn(
        [sys.executable, "-m", "tests.support.stalling_worker", str(config), str(marker)],
        API_SECRET,
        tmp_path / "doomed.log",
    )

    def started() -> bool:
        assert doomed.poll() is None, (tmp_path / "doomed.log").read_text()
        return marker.exists()

    await until(started, 20, "the stalling worker starting the turn")
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    assert marker.read_text() == "crash-1"
    assert await store.depth("turns") == 1  # claimed, never acknowledged

    settings = _settings(any_redis_url, url)
    survivor = build_gateway(settings, dialog=EchoDialog(), channels=enabled_channels(settings))
    await survivor.start()
    try:
        [reply] = await fake.wait_for(1, timeout=20)
        assert reply["text"] == "echo: are you there?"
        assert reply["in_reply_to"] == "crash-1"
        await drained(survivor)  # no ticket left: another reclaim round cannot answer again
        assert len(fake.delivered) == 1
        transcript = [decode_entry(e) for e in await store.transcript("api:u-crash")]
        assert [e.direction for e in transcript] == ["in", "out"]
        reclaimed = survivor.metrics.registry.get_sample_value(
            "frontdesk_reclaimed_total", {"lane": "turns"}
        )
        assert reclaimed is not None and reclaimed >= 1
    finally:
        await survivor.stop()
        await store.close()


async def test_shutdown_finishes_the_message_in_hand_and_hands_back_the_rest(
    redis_url: str, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    fake.delay = 0.3  # a slow platform: sends are in progress when we stop
    settings = _settings(redis_url, url)
    first = build_gateway(settings, dialog=EchoDialog(), channels=enabled_channels(settings))
    await first.start()
    for i in range(6):
        event = CustomerMessage(
            event_id=f"sd-{i}",
            conversation=ConversationRef(channel="api", chat_id="c-sd"),
            customer=CustomerRef(channel="api", user_id="u-sd"),
            text=f"m{i}",
        )
        await first.ingest.accept(event)
    await fake.wait_for(1)
    await first.stop()
    delivered_by_first = len(fake.delivered)
    assert 1 <= delivered_by_first < 6  # it stopped early, after the send in hand
    assert not any(r.status != 200 for r in fake.requests)  # nothing cut off mid-request

    second = build_gateway(settings, dialog=EchoDialog(), channels=enabled_channels(settings))
    await second.start()
    try:
        replies = await fake.wait_for(6, timeout=20)
        await drained(second)
        assert [r["text"] for r in fake.delivered] == [f"echo: m{i}" for i in range(6)]
        assert len(replies) == 6
    finally:
        await second.stop()
