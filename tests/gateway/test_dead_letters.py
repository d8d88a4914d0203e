"""A platform that keeps failing: the message lands in the dead-letter queue, ``frontdesk dlq
list`` shows it, and ``frontdesk dlq retry`` delivers it once the platform is back."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from frontdesk.app import create_app
from frontdesk.config import Settings
from gateway.http import GATEWAY
from tests.conftest import API_SECRET, api_body, signed_headers
from tests.support.fake_callback import FakeCallback
from tests.support.waiting import drained, until


def frontdesk(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "frontdesk", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TEST_API_SECRET": API_SECRET},
    )


async def test_failing_platform_dead_letters_then_dlq_retry_delivers_once(
    aiohttp_client: Any, redis_url: str, callback: tuple[FakeCallback, str], tmp_path: Path
) -> None:
    fake, url = callback
    fake.default = (500, {})
    settings = Settings.model_validate(
        {
            "store": {"url": redis_url},
            "outbox": {"base_delay": 0.02, "max_delay": 0.05, "max_attempts": 4},
            "channels": {"api": {"secret": API_SECRET, "callback_url": url}},
        }
    )
    app = create_app(settings)
    client = await aiohttp_client(app)
    body = api_body("please arrive", event_id="dl-1", user="u-dl")
    resp = await client.post("/webhooks/api", data=body, headers=signed_headers(body))
    assert resp.status == 200

    store = app[GATEWAY].store
    await until(store.dead_letters, 15, "the message in the dead-letter queue")
    assert [r.status for r in fake.requests] == [500, 500, 500, 500]  # max_attempts

    config = tmp_path / "dlq.yml"
    config.write_text(
        f'store: {{url: "{redis_url}"}}\n'
        f'channels: {{api: {{secret: "${{TEST_API_SECRET}}", callback_url: "{url}"}}}}\n'
    )
    listed = await asyncio.to_thread(frontdesk, "dlq", "list", config=config)
    assert listed.returncode == 0, listed.stderr
    [line] = listed.stdout.splitlines()
    letter = json.loads(line)
    assert letter["conversation"] == "api:u-dl"
    assert letter["attempts"] == 4
    assert "500" in letter["error"]

    fake.default = (200, {})
    retried = await asyncio.to_thread(frontdesk, "dlq", "retry", letter["id"], config=config)
    assert retried.returncode == 0, retried.stderr
    [reply] = await fake.wait_for(1)
    assert reply["text"] == "echo: please arrive"
    assert reply["in_reply_to"] == "dl-1"
    assert await store.dead_letters() == []
    # A second retry of the same id finds nothing, and nothing is sent twice.
    again = await asyncio.to_thread(frontdesk, "dlq", "retry", letter["id"], config=config)
    assert again.returncode == 1 and "no dead letter" in again.stderr
    await drained(app)
    assert len(fake.delivered) == 1
