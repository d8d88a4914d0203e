"""Session-wide real Redis, flushed before every test; helpers for signed API requests."""

from __future__ import annotations

import gc
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import hypothesis  # noqa: F401  (see below)
import pytest
import redis

from channels.api import sign
from tests.support.fake_callback import FakeCallback, start_callback
from tests.support.redis_server import RedisServer
from tests.support.redis_topologies import Cluster, SentinelGroup

# Hypothesis is imported while tests are collected: when its pytest plugin imports it only at the
# end of a run that has no test importing it, CPython 3.11.7 can fail to compile it ("AST
# constructor recursion depth mismatch") after the tests have passed.

# The example bot's ``nlu`` (trained once per module) and ``runner`` fixtures.
pytest_plugins = ["tests.support.example_bot"]

API_SECRET = "test-api-secret"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    client = redis.Redis(port=redis_server.port)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Three primaries and three replicas (``redis-cli --cluster create``), for the session."""
    cluster = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster_url(redis_cluster: Cluster) -> str:
    redis_cluster.wait_healthy()
    redis_cluster.flush()
    return redis_cluster.url


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelGroup]:
    """A primary, a replica and three Sentinels, for the session."""
    group = SentinelGroup(tmp_path_factory.mktemp("sentinel"))
    try:
        group.start()
        yield group
    finally:
        group.stop()


@pytest.fixture
def sentinel_url(redis_sentinel: SentinelGroup) -> str:
    redis_sentinel.flush()
    return redis_sentinel.url


@pytest.fixture(params=["single", "cluster", "sentinel"])
def any_redis_url(request: pytest.FixtureRequest) -> str:
    """The same test on one server, on Redis Cluster and on a Sentinel-managed primary."""
    name = {"single": "redis_url", "cluster": "cluster_url", "sentinel": "sentinel_url"}
    return str(request.getfixturevalue(name[request.param]))


@pytest.fixture
async def callback() -> AsyncIterator[tuple[FakeCallback, str]]:
    fake = FakeCallback(secret=API_SECRET)
    runner, url = await start_callback(fake)
    yield fake, url
    await runner.cleanup()


def api_body(
    text: str,
    *,
    conversation: str = "conv-1",
    user: str = "user-1",
    event_id: str | None = None,
    **extra: Any,
) -> bytes:
    return json.dumps(
        {
            "id": event_id or uuid.uuid4().hex,
            "conversation_id": conversation,
            "user_id": user,
            "text": text,
            **extra,
        }
    ).encode()


def signed_headers(body: bytes, secret: str = API_SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Frontdesk-Signature": sign(secret, body)}


def write_config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def _heap_unfrozen() -> Iterator[None]:
    """A hot reload settles the heap (common/heap.py): freeze nothing past the test that did."""
    yield
    gc.unfreeze()
