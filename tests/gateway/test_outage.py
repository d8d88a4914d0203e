"""A Redis outage: webhooks answer 503 and /readyz fails; once Redis is back, nothing is lost
and nothing is sent twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from frontdesk.app import create_app
from frontdesk.config import Settings
from tests.conftest import API_SECRET, api_body, signed_headers
from tests.support.fake_callback import FakeCallback
from tests.support.redis_server import RedisServer
from tests.support.waiting import drained, until


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "data", durable=True)
    server.directory.mkdir()
    server.start()
    yield server
    server.stop()


async def test_store_outage_refuses_webhooks_then_recovers_without_loss(
    aiohttp_client: Any, durable_redis: RedisServer, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    fake.default = (500, {})  # the app's API is down too: A waits in the outbox
    settings = Settings.model_validate(
        {
            "store": {"url": durable_redis.url},
            "workers": {"lease": 1, "reclaim_idle": 1},
            "outbox": {"base_delay": 0.1, "max_delay": 0.3, "max_attempts": 200},
            "channels": {"api": {"secret": API_SECRET, "callback_url": url}},
        }
    )
    app = create_app(settings)
    client = await aiohttp_client(app)
    a = api_body("before the outage", event_id="A", user="u-out")
    assert (await client.post("/webhooks/api", data=a, headers=signed_headers(a))).status == 200
    await until(lambda: fake.requests, 10, "a send attempt of A")

    durable_redis.stop()
    b = api_body("during the outage", event_id="B", user="u-out")
    resp = await client.post("/webhooks/api", data=b, headers=signed_headers(b))
    assert resp.status == 503
    assert (await client.get("/readyz")).status == 503
    assert (await client.get("/healthz")).status == 200  # alive, just not ready
    # Time is the point here: the outage outlasts the workers' 1 s lease, so the lock held
    # on A's outbox runs out while Redis is down and recovery has to go through a reclaim.
    await asyncio.sleep(1.1)

    durable_redis.start()

    async def ready() -> bool:
        return (await client.get("/readyz")).status == 200

    await until(ready, 15, "ready again")
    # The platform retries B; it is accepted now.
    resp = await client.post("/webhooks/api", data=b, headers=signed_headers(b))
    assert resp.status == 200
    fake.default = (200, {})
    await fake.wait_for(2, timeout=30)
    await drained(app)  # no ticket left for a reclaim round: nothing can go out again
    texts = [r["text"] for r in fake.delivered]
    assert texts == ["echo: before the outage", "echo: during the outage"]
