"""``frontdesk run --processes N``: N gateway processes on one port, supervised (issue 13)."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
import redis

from tests.conftest import API_SECRET, api_body, signed_headers
from tests.support.fake_callback import FakeCallback
from tests.support.processes import gateway_config, spawn, wait_ready
from tests.support.waiting import until


def outbox_pending(redis_url: str) -> bool:
    """Whether any conversation's outbox still holds a reply (sent but not yet recorded, or
    not yet sent)."""
    client = redis.Redis.from_url(redis_url)
    try:
        return any(  # (the global ticket stream matches the pattern too)
            client.llen(key) for key in client.scan_iter(match="fd:{*}:sends", _type="list")
        )
    finally:
        client.close()


pytestmark = pytest.mark.slow


def children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (Linux /proc)."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    alive = set()
    for child in found:
        state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state != "Z":
            alive.add(child)
    return alive


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


async def wait_children(pid: int, count: int, not_in: frozenset[int] = frozenset()) -> set[int]:
    deadline = time.monotonic() + 30
    while True:
        now = children(pid)
        if len(now) == count and not now & not_in:
            return now
        assert time.monotonic() < deadline, f"children of {pid}: {now}"
        await asyncio.sleep(0.1)


async def converse(port: int, conversations: int, messages: int, tag: str) -> None:
    async with aiohttp.ClientSession() as http:

        async def one(c: int) -> None:
            for i in range(messages):
                body = api_body(f"{tag} c{c} m{i}", conversation=f"{tag}-{c}", user=f"{tag}-u{c}")
                url = f"http://127.0.0.1:{port}/webhooks/api"
                async with http.post(url, data=body, headers=signed_headers(body)) as resp:
                    assert resp.status == 200

        await asyncio.gather(*(one(c) for c in range(conversations)))


async def test_processes_share_one_port_and_a_dead_one_is_replaced(
    tmp_path: Path, redis_url: str, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    config, port = gateway_config(tmp_path, store_url=redis_url, callback_url=url)
    cmd = [sys.executable, "-m", "frontdesk", "run", "--config", str(config), "--processes", "2"]
    parent = spawn(cmd, API_SECRET, tmp_path / "parent.log")
    try:
        wait_ready(port, parent, timeout=60)
        first = await wait_children(parent.pid, 2)
        await converse(port, 10, 5, "a")
        await fake.wait_for(50, timeout=60)
        # every send recorded before the kill: a process killed between the platform taking a
        # reply and Redis recording it sends it again (the documented one-HTTP-round-trip
        # window, docs/architecture.md), which is not what this test is about
        await until(lambda: not outbox_pending(redis_url), timeout=30, what="outbox drained")

        # kill -9 one of them: the parent starts another; the port keeps answering
        os.kill(min(first), signal.SIGKILL)
        await wait_children(parent.pid, 2, not_in=frozenset({min(first)}))
        await converse(port, 10, 5, "b")
        replies = await fake.wait_for(100, timeout=60)
        await asyncio.sleep(0.5)
        assert len(fake.delivered) == 100, "a reply was sent twice"
        by_conversation: dict[str, list[str]] = collections.defaultdict(list)
        for reply in replies:
            by_conversation[reply["conversation_id"]].append(reply["text"])
        for tag in "ab":
            for c in range(10):
                want = [f"echo: {tag} c{c} m{i}" for i in range(5)]
                assert by_conversation[f"{tag}-{c}"] == want
        survivors = children(parent.pid)
    finally:
        parent.send_signal(signal.SIGTERM)
        code = parent.wait(timeout=60)
    assert code == 0
    assert not any(alive(pid) for pid in survivors)


def test_processes_need_a_shared_store(tmp_path: Path) -> None:
    config, _ = gateway_config(tmp_path, store_url="memory://", callback_url="http://x/")
    cmd = [sys.executable, "-m", "frontdesk", "run", "--config", str(config), "--processes", "2"]
    env = {**os.environ, "TEST_API_SECRET": API_SECRET}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "--processes needs a shared store" in done.stderr
