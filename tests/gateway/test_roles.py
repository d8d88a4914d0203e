"""Processes by role (issue 13): ``--role ingest`` accepts webhooks and runs no turns;
``--role workers`` answers them without listening; ``--processes N --ingest-processes K``
supervises both kinds; a kill -9 of either loses nothing that was acknowledged."""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import API_SECRET
from tests.gateway.test_processes import converse, outbox_pending, wait_children
from tests.support.fake_callback import FakeCallback
from tests.support.processes import gateway_config, spawn, wait_ready
from tests.support.redis_server import free_port
from tests.support.waiting import until

pytestmark = pytest.mark.slow


def run(config: Path, role: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "frontdesk", "run", "--config", str(config), "--role", role]
    return spawn([*cmd, *extra], API_SECRET, log)


def status_of(url: str) -> int:
    """The status a POST of a webhook-shaped body gets at ``url``."""
    try:
        with urllib.request.urlopen(url, data=b"{}", timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def turns_counted(metrics_port: int) -> float:
    """The workers process's own count of committed turns, from its /metrics."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    found = re.search(r'^frontdesk_turns_total\{outcome="ok"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(timeout=60)


def waiting_turns(redis_url: str) -> int:
    """Tickets in the turns lane: conversations with messages accepted and not yet answered."""
    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.xlen("fd:lane:turns"))
    finally:
        client.close()


def by_conversation(replies: list[Any]) -> dict[str, list[str]]:
    """Each conversation's replies in order, a repeat of the one before dropped (the
    documented one-round-trip window of a kill -9 between a send and its record)."""
    found: dict[str, list[str]] = collections.defaultdict(list)
    for reply in replies:
        texts = found[reply["conversation_id"]]
        if not texts or texts[-1] != reply["text"]:
            texts.append(reply["text"])
    return found


def expected(tag: str, conversations: int, messages: int) -> dict[str, list[str]]:
    return {
        f"{tag}-{c}": [f"echo: {tag} c{c} m{i}" for i in range(messages)]
        for c in range(conversations)
    }


async def test_an_ingest_process_accepts_and_a_workers_process_answers_once(
    tmp_path: Path, redis_url: str, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    config, port = gateway_config(tmp_path, store_url=redis_url, callback_url=url)
    ingest = run(config, "ingest", tmp_path / "ingest.log")
    workers: subprocess.Popen[bytes] | None = None
    try:
        wait_ready(port, ingest, timeout=60)
        await converse(port, 5, 4, "a")  # every one acknowledged (200)
        # accepted and waiting durably: the ingest process runs no turns
        assert waiting_turns(redis_url) >= 5
        assert fake.delivered == []
        metrics_port = free_port()
        workers = run(
            config, "workers", tmp_path / "workers.log", "--metrics-port", str(metrics_port)
        )
        replies = await fake.wait_for(20, timeout=60)
        await until(lambda: waiting_turns(redis_url) == 0, timeout=30, what="turns drained")
        await until(lambda: not outbox_pending(redis_url), timeout=30, what="outbox drained")
        assert len(fake.delivered) == 20, "a reply was sent twice"
        assert by_conversation(replies) == expected("a", 5, 4)
        # the workers yield the CPU to the webhooks (server.workers_nice, default 10)
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, workers.pid) == min(19, ours + 10)
        # its own figures on its own small listener, which takes no webhooks
        wait_ready(metrics_port, workers, timeout=30)
        assert turns_counted(metrics_port) == 20
        assert status_of(f"http://127.0.0.1:{metrics_port}/webhooks/api") == 404
    finally:
        if workers is not None:
            assert stop(workers) == 0
        assert stop(ingest) == 0


async def test_a_kill_of_either_role_loses_nothing(
    tmp_path: Path, redis_url: str, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    config, port = gateway_config(tmp_path, store_url=redis_url, callback_url=url)
    ingest = run(config, "ingest", tmp_path / "ingest-1.log")
    workers = run(config, "workers", tmp_path / "workers-1.log")
    started = [ingest, workers]
    try:
        wait_ready(port, ingest, timeout=60)
        await converse(port, 10, 5, "a")
        await fake.wait_for(10, timeout=60)  # the workers are at it: kill them mid-stream
        workers.kill()
        workers.wait()
        workers = run(config, "workers", tmp_path / "workers-2.log")
        started.append(workers)
        await converse(port, 10, 3, "b")  # acknowledged while the new workers start
        ingest.kill()  # kill -9 the ingest process too; a new one takes the port
        ingest.wait()
        ingest = run(config, "ingest", tmp_path / "ingest-2.log")
        started.append(ingest)
        wait_ready(port, ingest, timeout=60)
        await converse(port, 10, 2, "c")
        await until(
            lambda: (
                by_conversation(fake.delivered)
                == {**expected("a", 10, 5), **expected("b", 10, 3), **expected("c", 10, 2)}
            ),
            timeout=90,
            what="every acknowledged message answered, in order",
        )
    finally:
        for process in started:
            if process.poll() is None:
                stop(process)


async def test_ingest_processes_and_workers_processes_under_one_supervisor(
    tmp_path: Path, redis_url: str, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    config, port = gateway_config(tmp_path, store_url=redis_url, callback_url=url)
    cmd = [sys.executable, "-m", "frontdesk", "run", "--config", str(config)]
    parent = spawn(
        [*cmd, "--processes", "3", "--ingest-processes", "1"], API_SECRET, tmp_path / "p.log"
    )
    try:
        wait_ready(port, parent, timeout=60)
        await wait_children(parent.pid, 3)
        await converse(port, 10, 3, "a")
        replies = await fake.wait_for(30, timeout=60)
        await until(lambda: waiting_turns(redis_url) == 0, timeout=30, what="turns drained")
        await until(lambda: not outbox_pending(redis_url), timeout=30, what="outbox drained")
        assert len(fake.delivered) == 30, "a reply was sent twice"
        assert by_conversation(replies) == expected("a", 10, 3)
    finally:
        assert stop(parent) == 0


def test_a_role_needs_a_shared_store(tmp_path: Path) -> None:
    config, _ = gateway_config(tmp_path, store_url="memory://", callback_url="http://x/")
    env = {**os.environ, "TEST_API_SECRET": API_SECRET}
    cmd = [sys.executable, "-m", "frontdesk", "run", "--config", str(config), "--role", "ingest"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "--role ingest needs a shared store" in done.stderr
