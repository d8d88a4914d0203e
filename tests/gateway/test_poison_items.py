"""An inbound item that cannot be processed must not jam its conversation: after
``workers.max_attempts`` failures it goes to the dead-letter queue (``frontdesk dlq list`` shows
it as inbound, ``frontdesk dlq retry`` puts it back) and the customer's next message is answered.

The poison below is the shape the defect report found: a location whose latitude was ``nan``
or ``1e999``, which pydantic wrote into the queue as ``null``, so the worker could never decode
it again.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from common.messages import (
    ConversationRef,
    CustomerMessage,
    CustomerRef,
    Location,
    encode_event,
)
from frontdesk.app import create_app
from frontdesk.config import Settings
from gateway.http import GATEWAY
from tests.conftest import API_SECRET, api_body, signed_headers
from tests.support.fake_callback import FakeCallback
from tests.support.waiting import until

USER = "u-poison"
KEY = f"api:{USER}"


def poisoned_location_event() -> bytes:
    """A queued location event whose latitude became null (as inf/nan used to)."""
    event = CustomerMessage(
        event_id="poison-1",
        conversation=ConversationRef(channel="api", chat_id="conv-poison"),
        customer=CustomerRef(channel="api", user_id=USER),
        location=Location(latitude=1.0, longitude=2.0),
    )
    data = json.loads(encode_event(event))
    data["location"]["latitude"] = None
    return json.dumps(data).encode()


def settings_for(store_url: str, callback_url: str) -> Settings:
    return Settings.model_validate(
        {
            "store": {"url": store_url},
            "workers": {"max_attempts": 3, "reclaim_idle": 0.5, "lease": 2.0},
            "channels": {"api": {"secret": API_SECRET, "callback_url": callback_url}},
        }
    )


@pytest.mark.parametrize("store_kind", ["memory", "redis", "cluster"])
async def test_a_poisoned_item_is_dead_lettered_and_the_conversation_goes_on(
    aiohttp_client: Any,
    request: pytest.FixtureRequest,
    callback: tuple[FakeCallback, str],
    store_kind: str,
) -> None:
    fake, url = callback
    urls = {"memory": "memory://"}
    if store_kind != "memory":
        urls[store_kind] = request.getfixturevalue(f"{store_kind}_url")
    app = create_app(settings_for(urls[store_kind], url))
    client = await aiohttp_client(app)
    store = app[GATEWAY].store

    # The poison is at the head of the conversation's inbox, the customer writes again.
    assert await store.enqueue(KEY, "api:poison-1", poisoned_location_event(), 3600)
    body = api_body("are you there?", conversation="conv-poison", user=USER, event_id="after")
    resp = await client.post("/webhooks/api", data=body, headers=signed_headers(body))
    assert resp.status == 200

    [reply] = await fake.wait_for(1)
    assert reply["text"] == "echo: are you there?"
    assert reply["in_reply_to"] == "after"

    [letter] = await store.dead_letters()
    assert letter.lane == "turns"
    assert letter.key == KEY
    assert letter.attempts == 3
    assert "ValidationError" in letter.error
    assert await store.head("turns", KEY) is None  # nothing left blocking the inbox


async def test_dlq_lists_inbound_letters_and_retry_puts_them_back(
    aiohttp_client: Any, redis_url: str, callback: tuple[FakeCallback, str], tmp_path: Path
) -> None:
    fake, url = callback
    app = create_app(settings_for(redis_url, url))
    await aiohttp_client(app)
    store = app[GATEWAY].store
    assert await store.enqueue(KEY, "api:poison-1", poisoned_location_event(), 3600)
    await until(store.dead_letters, 15, "the poison in the dead-letter queue")

    config = tmp_path / "dlq.yml"
    config.write_text(f'store: {{url: "{redis_url}"}}\n')
    listed = await asyncio.to_thread(_frontdesk, "dlq", "list", config=config)
    assert listed.returncode == 0, listed.stderr
    [line] = listed.stdout.splitlines()
    shown = json.loads(line)
    assert shown["direction"] == "inbound"
    assert shown["conversation"] == KEY
    assert shown["attempts"] == 3
    assert "latitude" in shown["error"]

    # Retried, it is back in the inbox; still undecodable, it fails again and is dead-lettered
    # again rather than blocking the conversation.
    retried = await asyncio.to_thread(_frontdesk, "dlq", "retry", shown["id"], config=config)
    assert retried.returncode == 0, retried.stderr

    async def lettered_again() -> bool:
        return [d.id for d in await store.dead_letters()] not in ([], [shown["id"]])

    await until(lettered_again, 15, "the retried poison dead-lettered again")
    [again] = await store.dead_letters()
    assert again.lane == "turns" and again.id != shown["id"]
    assert fake.requests == []  # the bot never answered the undecodable event


def _frontdesk(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "frontdesk", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )
