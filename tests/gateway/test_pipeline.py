"""End to end through the generic API channel against a real Redis: webhook in, reply out."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from channels.api import signature_matches
from frontdesk.app import create_app
from frontdesk.config import Settings
from gateway.http import GATEWAY
from gateway.sessions import decode_entry
from tests.conftest import API_SECRET, api_body, signed_headers
from tests.support.fake_callback import FakeCallback
from tests.support.waiting import drained, until

Client = Any  # the aiohttp_client fixture's callable


def settings_for(store_url: str, callback_url: str, **outbox: Any) -> Settings:
    return Settings.model_validate(
        {
            "store": {"url": store_url},
            "workers": {"lease": 2, "reclaim_idle": 2},
            "outbox": {"base_delay": 0.05, "max_delay": 0.2, "max_attempts": 3, **outbox},
            "channels": {"api": {"secret": API_SECRET, "callback_url": callback_url}},
        }
    )


@pytest.fixture(params=["redis", "cluster", "memory"])
def store_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    url: str = request.getfixturevalue("cluster_url" if request.param == "cluster" else "redis_url")
    return url


async def post(client: TestClient, body: bytes, headers: dict[str, str] | None = None) -> int:
    resp = await client.post(
        "/webhooks/api", data=body, headers=signed_headers(body) if headers is None else headers
    )
    return resp.status


async def test_signed_message_gets_a_signed_reply(
    aiohttp_client: Client, store_url: str, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    client = await aiohttp_client(create_app(settings_for(store_url, url)))
    body = api_body("hello there", conversation="c-7", user="u-7", event_id="evt-1")
    assert await post(client, body) == 200
    [reply] = await fake.wait_for(1)
    assert reply["text"] == "echo: hello there"
    assert reply["conversation_id"] == "c-7"
    assert reply["in_reply_to"] == "evt-1"
    assert reply["buttons"] == []
    recorded = fake.requests[0]
    assert signature_matches(API_SECRET, recorded.body, recorded.headers["X-Frontdesk-Signature"])


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Content-Type": "application/json"}, 401),
        ({"X-Frontdesk-Signature": "sha256=" + "0" * 64}, 403),
        ({"X-Frontdesk-Signature": "garbage"}, 403),
    ],
    ids=["unsigned", "bad-signature", "malformed-signature"],
)
async def test_unsigned_or_badly_signed_webhooks_are_refused(
    aiohttp_client: Client,
    redis_url: str,
    callback: tuple[FakeCallback, str],
    headers: dict[str, str],
    status: int,
) -> None:
    fake, url = callback
    app = create_app(settings_for(redis_url, url))
    client = await aiohttp_client(app)
    assert await post(client, api_body("hi"), headers) == status
    # Signed with another secret: refused too.
    assert await post(client, api_body("hi"), signed_headers(api_body("hi"), "other")) == 403
    await drained(app)
    assert fake.requests == []
    assert await app[GATEWAY].store.depth("turns") == 0
    metrics = await (await client.get("/metrics")).text()
    assert 'frontdesk_events_in_total{channel="api",outcome="rejected"} 2.0' in metrics


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        json.dumps({"id": "1", "user_id": "u", "text": "x"}).encode(),
        json.dumps({"id": "1", "conversation_id": "c", "user_id": ["u"], "text": "x"}).encode(),
    ],
    ids=["not-json", "not-object", "missing-conversation", "wrong-type"],
)
async def test_malformed_bodies_get_400(
    aiohttp_client: Client, redis_url: str, callback: tuple[FakeCallback, str], body: bytes
) -> None:
    _, url = callback
    client = await aiohttp_client(create_app(settings_for(redis_url, url)))
    resp = await client.post("/webhooks/api", data=body, headers=signed_headers(body))
    assert resp.status == 400
    assert (await resp.text()) != ""


async def test_same_event_twice_at_once_gives_one_turn_and_one_reply(
    aiohttp_client: Client, store_url: str, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    app = create_app(settings_for(store_url, url))
    client = await aiohttp_client(app)
    body = api_body("only once", event_id="dup-1", user="dup-user")
    statuses = await asyncio.gather(*(post(client, body) for _ in range(5)))
    assert statuses == [200] * 5  # re-deliveries are acknowledged, then dropped
    await fake.wait_for(1)
    await drained(app)
    assert [r["text"] for r in fake.delivered] == ["echo: only once"]
    transcript = [decode_entry(e) for e in await app[GATEWAY].store.transcript("api:dup-user")]
    assert [(e.direction, e.text) for e in transcript] == [
        ("in", "only once"),
        ("out", "echo: only once"),
    ]
    metrics = await (await client.get("/metrics")).text()
    assert 'frontdesk_events_in_total{channel="api",outcome="duplicate"} 4.0' in metrics


async def test_replies_of_one_conversation_leave_in_order(
    aiohttp_client: Client, store_url: str, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    client = await aiohttp_client(create_app(settings_for(store_url, url)))
    for i in range(15):
        assert await post(client, api_body(f"m{i}", user="orderly")) == 200
    replies = await fake.wait_for(15)
    assert [r["text"] for r in replies] == [f"echo: m{i}" for i in range(15)]


async def test_rate_limited_send_waits_for_retry_after_then_delivers_once(
    aiohttp_client: Client, redis_url: str, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    fake.script = [(429, {"Retry-After": "1"})]
    client = await aiohttp_client(create_app(settings_for(redis_url, url)))
    assert await post(client, api_body("slow down")) == 200
    [reply] = await fake.wait_for(1)
    assert reply["text"] == "echo: slow down"
    first, second = fake.requests
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.95  # honoured Retry-After, not our 50 ms backoff
    await drained(client)
    assert len(fake.requests) == 2


async def test_server_errors_are_retried_then_delivered(
    aiohttp_client: Client, redis_url: str, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    fake.script = [(500, {}), (503, {})]
    client = await aiohttp_client(create_app(settings_for(redis_url, url)))
    assert await post(client, api_body("flaky")) == 200
    await fake.wait_for(1)
    assert [r.status for r in fake.requests] == [500, 503, 200]


async def test_client_errors_are_not_retried_and_go_to_the_dead_letter_queue(
    aiohttp_client: Client, redis_url: str, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    fake.default = (400, {})
    app = create_app(settings_for(redis_url, url))
    client = await aiohttp_client(app)
    assert await post(client, api_body("rejected by the app")) == 200
    store = app[GATEWAY].store
    await until(store.dead_letters, 10, "a dead letter")
    assert [r.status for r in fake.requests] == [400]
    [letter] = await store.dead_letters()
    assert "400" in letter.error and letter.attempts == 1


async def test_health_readiness_and_metrics(
    aiohttp_client: Client, redis_url: str, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    client = await aiohttp_client(create_app(settings_for(redis_url, url)))
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["status"] == "ready"
    await post(client, api_body("count me"))
    await fake.wait_for(1)
    await drained(client)
    resp = await client.get("/metrics")
    assert resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()
    assert 'frontdesk_events_in_total{channel="api",outcome="accepted"} 1.0' in text
    assert 'frontdesk_sends_total{channel="api",outcome="sent"} 1.0' in text
    assert "frontdesk_turn_seconds_count 1.0" in text
    assert 'frontdesk_queue_depth{lane="turns"} 0.0' in text


async def test_sends_are_paced_by_the_channel_rate_limit(
    aiohttp_client: Client, redis_url: str, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    settings = settings_for(redis_url, url, rate_limits={"api": 4})
    client = await aiohttp_client(create_app(settings))
    for i in range(8):  # eight conversations: nothing else would hold them back
        assert await post(client, api_body(f"m{i}", user=f"paced-{i}")) == 200
    await fake.wait_for(8)
    arrivals = sorted(r.at for r in fake.requests)
    # 4/s with a burst of 4: the last four wait for the bucket to refill.
    assert arrivals[-1] - arrivals[0] >= 0.75
