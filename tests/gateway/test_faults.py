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
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import API_SECRET
from tests.support.fake_callback import FakeCallback
from tests.support.processes import gateway_config, running_gateway
from tests.support.redis_topologies import Cluster
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
