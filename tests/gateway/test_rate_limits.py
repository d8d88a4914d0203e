"""A sender who floods gets one "slow down" reply, then is dropped until the bucket refills.

Arrival times are set on the events (the limit is judged by ``received_at``), so the test
needs no clock: a burst 1 ms apart, then a message 2 s later.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from common.messages import ConversationRef, CustomerMessage, CustomerRef
from dialogs.echo import EchoDialog
from frontdesk.app import build_gateway, enabled_channels
from frontdesk.config import Settings
from gateway.ingest import Ingest
from gateway.limits import SLOW_DOWN_TEXT
from gateway.sessions import decode_entry
from tests.conftest import API_SECRET
from tests.support.fake_callback import FakeCallback


@pytest.fixture(params=["redis", "memory"])
def store_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    url: str = request.getfixturevalue("redis_url")
    return url


def message(user: str, n: int, at: float, **extra: Any) -> CustomerMessage:
    return CustomerMessage(
        event_id=f"{user}-{n}",
        conversation=ConversationRef(channel="api", chat_id=user),
        customer=CustomerRef(channel="api", user_id=user),
        text=f"m{n}",
        received_at=at,
        **extra,
    )


async def test_a_flooding_sender_is_warned_once_then_dropped_then_answered_again(
    store_url: str, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    settings = Settings.model_validate(
        {
            "store": {"url": store_url},
            "limits": {
                "per_sender": {"rate": 100, "burst": 100},
                "channels": {"api": {"rate": 1, "burst": 3}},
            },
            "channels": {"api": {"secret": API_SECRET, "callback_url": url}},
        }
    )
    gateway = build_gateway(settings, dialog=EchoDialog(), channels=enabled_channels(settings))
    await gateway.start()
    try:
        ingest = Ingest(gateway.store, gateway.metrics, dedup_ttl=60)
        t0 = time.time()
        for n in range(7):  # 7 messages within 7 ms: 3 pass, 1 warned, 3 dropped
            assert await ingest.accept(message("flood", n, t0 + n / 1000)) == "accepted"
        await ingest.accept(message("calm", 0, t0))  # another sender is not affected
        await ingest.accept(message("flood", 7, t0 + 2.0))  # after the window: answered
        replies = await fake.wait_for(6)
        flood = [(r["in_reply_to"], r["text"]) for r in replies if r["conversation_id"] == "flood"]
        assert flood == [
            ("flood-0", "echo: m0"),
            ("flood-1", "echo: m1"),
            ("flood-2", "echo: m2"),
            ("flood-3", SLOW_DOWN_TEXT),
            ("flood-7", "echo: m7"),
        ]
        assert [r["text"] for r in replies if r["conversation_id"] == "calm"] == ["echo: m0"]
        # Dropped messages reach neither the dialog nor the transcript; they are counted.
        transcript = [decode_entry(e) for e in await gateway.store.transcript("api:flood")]
        assert [e.text for e in transcript if e.direction == "in"] == ["m0", "m1", "m2", "m3", "m7"]
        sample = gateway.metrics.registry.get_sample_value
        labels = {"channel": "api", "outcome": "drop"}
        assert sample("frontdesk_rate_limited_total", labels) == 3
        assert sample("frontdesk_rate_limited_total", {**labels, "outcome": "warn"}) == 1
        assert len(fake.delivered) == 6  # nothing more was sent
    finally:
        await gateway.stop()


async def test_stop_is_never_rate_limited(callback: tuple[FakeCallback, str]) -> None:
    fake, url = callback
    settings = Settings.model_validate(
        {
            "limits": {"per_sender": {"rate": 1, "burst": 1}},
            "channels": {"api": {"secret": API_SECRET, "callback_url": url}},
        }
    )
    gateway = build_gateway(settings, dialog=EchoDialog(), channels=enabled_channels(settings))
    await gateway.start()
    try:
        ingest = Ingest(gateway.store, gateway.metrics, dedup_ttl=60)
        t0 = time.time()
        await ingest.accept(message("u", 0, t0))
        await ingest.accept(message("u", 1, t0 + 0.001, control="help"))
        replies = await fake.wait_for(2)
        assert replies[0]["text"] == "echo: m0"
        assert replies[1]["text"] != SLOW_DOWN_TEXT  # the help text
    finally:
        await gateway.stop()
