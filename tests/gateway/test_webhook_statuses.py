"""The generic webhook handler answers every outcome with a deliberate status (issue 16): an
adapter or the store failing in a way nobody planned for is never a traceback as a 500."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from channels.api import ApiChannel
from channels.base import WebhookRequest, WebhookRetryLater
from common.messages import InboundEvent
from frontdesk.app import create_app
from frontdesk.config import Settings
from gateway.http import GATEWAY
from tests.conftest import API_SECRET, api_body, signed_headers

Client = Any  # the aiohttp_client fixture's callable


class Broken(ApiChannel):
    """The API channel with one of its steps failing as ``failure`` says."""

    failure = ""

    def verify(self, request: WebhookRequest) -> None:
        if self.failure == "verify":
            raise TypeError("a verifier choking on junk")
        super().verify(request)

    def parse(self, request: WebhookRequest) -> list[InboundEvent]:
        if self.failure == "parse":
            raise RuntimeError("an adapter bug")
        if self.failure == "later":
            raise WebhookRetryLater("not ready yet", retry_after=7)
        return super().parse(request)


async def app_with(aiohttp_client: Client, failure: str) -> TestClient:
    channel = Broken(secret=API_SECRET, callback_url="http://127.0.0.1:9")
    channel.failure = failure
    settings = Settings.model_validate({"store": {"url": "memory://"}})
    client: TestClient = await aiohttp_client(
        create_app(settings, channels={"api": channel}, workers=False)
    )
    return client


@pytest.mark.parametrize("failure, status", [("verify", 403), ("parse", 400), ("later", 503)])
async def test_an_unexpected_failure_has_a_deliberate_status(
    aiohttp_client: Client, failure: str, status: int
) -> None:
    client = await app_with(aiohttp_client, failure)
    body = api_body("hello")
    resp = await client.post("/webhooks/api", data=body, headers=signed_headers(body))
    assert resp.status == status
    if failure == "later":
        assert resp.headers["Retry-After"] == "7"


async def test_a_failing_queue_answers_503_so_the_platform_retries(
    aiohttp_client: Client,
) -> None:
    client = await app_with(aiohttp_client, "")

    async def fail(event: InboundEvent) -> str:
        raise ConnectionResetError("the queue went away mid-write")

    client.app[GATEWAY].ingest.accept = fail  # type: ignore[method-assign]
    body = api_body("hello")
    resp = await client.post("/webhooks/api", data=body, headers=signed_headers(body))
    assert resp.status == 503
