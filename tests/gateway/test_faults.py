"""Faults survived, measured from outside: two gateway processes under steady signed traffic
while Redis loses a primary (Cluster, Sentinel), or pauses longer than the lease, or a
platform answers slowly. Each test prints a ``FIGURES`` line (accepted / answered / lost /
doubled / out of order); run ``pytest -s -m slow tests/gateway/test_faults.py`` to see them.

Redis replicates asynchronously: a write acknowledged by a primary killed a moment later may
never reach the replica that takes over. The tests allow that window (docs/operations.md
measures it) for ``lost`` and ``doubled`` only where a primary is killed; every other fault
must lose and double nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import API_SECRET
from tests.support.fake_callback import FakeCallback
from tests.support.processes import gateway_config, running_gateway
from tests.support.redis_server import RedisServer
from tests.support.redis_topologies import Cluster, SentinelGroup
from tests.support.traffic import Figures, Traffic, figures

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def two_hosts(
    tmp_path: Path, store_url: str, callback_url: str, **workers: float
) -> Iterator[list[int]]:
    options = {"lease": 2.0, "reclaim_idle": 2.0, **workers}
    a, port_a = gateway_config(tmp_path, store_url=store_url, callback_url=callback_url, **options)
    b, port_b = gateway_config(tmp_path, store_url=store_url, callback_url=callback_url, **options)
    with running_gateway(a, port_a, API_SECRET), running_gateway(b, port_b, API_SECRET):
        yield [port_a, port_b]


async def settle(fake: FakeCallback, traffic: Traffic, timeout: float = 60.0) -> None:
    """Wait until every acknowledged message was answered (or ``timeout``), then a little
    longer for anything sent twice to show."""
    accepted = {s.event_id for s in traffic.sent if s.accepted_at is not None}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answered = {r.get("in_reply_to") for r in fake.delivered}
        if accepted <= answered:
            break
        fake.arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fake.arrived.wait(), timeout=0.5)
    await asyncio.sleep(3.0)  # past a reclaim round: a doubled reply would arrive now


def report(name: str, result: Figures) -> None:
    print("\n" + result.line(name))


def arrivals(fake: FakeCallback) -> list[float]:
    return [r.at for r in fake.requests if r.status < 300]


@pytest.fixture(scope="module")
def fault_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A cluster of its own: these tests kill its nodes."""
    cluster = Cluster(tmp_path_factory.mktemp("fault-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


async def test_a_cluster_primary_killed_under_load(
    tmp_path: Path, fault_cluster: Cluster, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    fault_cluster.wait_healthy()
    fault_cluster.flush()
    victim = fault_cluster.primary_of("fd:lane:turns")  # the turn tickets and 1/3 of the slots
    with two_hosts(tmp_path, fault_cluster.url, url) as ports:
        traffic = Traffic(ports, API_SECRET, rate=40, conversations=20)
        sending = asyncio.create_task(traffic.run())
        await asyncio.sleep(3)
        fault_at = time.monotonic()
        victim.kill()  # kill -9
        # Half the customers stop writing: their last message must be answered without a
        # later one to carry it along (a ticket lost with the primary is posted again).
        traffic.quiet(0.5)
        await asyncio.to_thread(fault_cluster.wait_healthy, 30)  # a replica was promoted
        fault_end = time.monotonic()
        await asyncio.sleep(2)
        traffic.stop()
        await sending
        await settle(fake, traffic)
    result = figures(
        traffic, fake.delivered, fault_at=fault_at, fault_end=fault_end, arrivals=arrivals(fake)
    )
    report(f"cluster primary kill -9 (failover {fault_end - fault_at:.1f} s)", result)
    fault_cluster.restart(victim)
    assert result.accepted > 150
    assert result.out_of_order == 0
    # The asynchronous replication window: what a killed primary had acknowledged but not
    # yet passed on (docs/operations.md). Anything beyond a handful is a bug.
    assert result.lost <= 3 and result.doubled <= 3


@pytest.fixture
def fault_sentinel(tmp_path: Path) -> Iterator[SentinelGroup]:
    """A Sentinel group of its own: the test kills its primary."""
    group = SentinelGroup(tmp_path / "sentinel")
    try:
        group.start()
        yield group
    finally:
        group.stop()


async def test_a_sentinel_primary_killed_under_load(
    tmp_path: Path, fault_sentinel: SentinelGroup, callback: tuple[FakeCallback, str]
) -> None:
    fake, url = callback
    old = fault_sentinel.current_primary()
    with two_hosts(tmp_path, fault_sentinel.url, url) as ports:
        traffic = Traffic(ports, API_SECRET, rate=40, conversations=20)
        sending = asyncio.create_task(traffic.run())
        await asyncio.sleep(3)
        fault_at = time.monotonic()
        old.kill()  # kill -9
        traffic.quiet(0.5)
        await asyncio.to_thread(fault_sentinel.wait_promoted, old)
        fault_end = time.monotonic()
        await asyncio.sleep(2)
        traffic.stop()
        await sending
        await settle(fake, traffic)
    result = figures(
        traffic, fake.delivered, fault_at=fault_at, fault_end=fault_end, arrivals=arrivals(fake)
    )
    report(f"sentinel primary kill -9 (failover {fault_end - fault_at:.1f} s)", result)
    assert result.accepted > 100
    assert result.out_of_order == 0
    assert result.lost <= 3 and result.doubled <= 3  # the replication window, as above


async def test_redis_paused_longer_than_the_lease(
    tmp_path: Path, callback: tuple[FakeCallback, str]
) -> None:
    """SIGSTOP for 6 s (the lease is 2 s, a Redis call gives up after 5 s), then SIGCONT:
    the processes' leases have lapsed meanwhile; nothing is lost or sent twice."""
    fake, url = callback
    server = RedisServer(tmp_path / "redis")
    server.directory.mkdir()
    server.start()
    try:
        with two_hosts(tmp_path, server.url, url) as ports:
            traffic = Traffic(ports, API_SECRET, rate=40, conversations=20)
            sending = asyncio.create_task(traffic.run())
            await asyncio.sleep(3)
            assert server.process is not None
            fault_at = time.monotonic()
            server.process.send_signal(signal.SIGSTOP)
            await asyncio.sleep(6)
            server.process.send_signal(signal.SIGCONT)
            fault_end = time.monotonic()
            await asyncio.sleep(3)
            traffic.stop()
            await sending
            await settle(fake, traffic)
    finally:
        if server.process is not None:
            server.process.send_signal(signal.SIGCONT)
        server.stop()
    result = figures(
        traffic, fake.delivered, fault_at=fault_at, fault_end=fault_end, arrivals=arrivals(fake)
    )
    report("redis SIGSTOP 6 s (lease 2 s)", result)
    assert result.accepted > 150
    assert (result.lost, result.doubled, result.out_of_order) == (0, 0, 0)


async def test_a_slow_platform_does_not_stall_other_conversations(
    tmp_path: Path, redis_url: str, callback: tuple[FakeCallback, str]
) -> None:
    """The platform takes 10 s to answer one conversation's message; the other
    conversations' replies keep flowing meanwhile, and the slow one is delivered once."""
    fake, url = callback
    with two_hosts(tmp_path, redis_url, url) as ports:
        traffic = Traffic(ports, API_SECRET, rate=20, conversations=10)
        slow = f"{traffic.run_id}-c0"
        fake.delays[slow] = 10.0
        sending = asyncio.create_task(traffic.run(duration=5))
        await sending
        await settle(fake, traffic)
    result = figures(traffic, fake.delivered)
    slow_done = min(r.at for r in fake.requests if r.json["conversation_id"] == slow)
    first_slow = slow_done - 10.0  # a request is recorded when it is answered
    others_meanwhile = [
        r
        for r in fake.requests
        if r.json["conversation_id"] != slow and first_slow < r.at < slow_done
    ]
    report(
        f"slow platform (10 s for one conversation; {len(others_meanwhile)} other replies "
        "delivered while it waited)",
        result,
    )
    assert (result.lost, result.doubled, result.out_of_order) == (0, 0, 0)
    # Every other conversation's messages, sent during those 10 s, were answered in them.
    sent_meanwhile = [
        s for s in traffic.sent if s.conversation != slow and s.accepted_at is not None
    ]
    assert len(others_meanwhile) >= len(sent_meanwhile) // 2
