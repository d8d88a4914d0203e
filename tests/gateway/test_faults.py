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
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from gateway.store import open_store
from tests.conftest import API_SECRET
from tests.support import netns
from tests.support.fake_callback import FakeCallback
from tests.support.processes import gateway_config, running_gateway, spawn
from tests.support.redis_server import RedisServer, free_port
from tests.support.redis_topologies import Cluster, SentinelGroup
from tests.support.traffic import Figures, Traffic, figures
from tests.support.waiting import drained

pytestmark = pytest.mark.slow

# Longer than a failover here (2-4 s): a lock must not lapse while its holder waits out the
# failover to record a send it made, or another process sends the reply again (with a 2 s
# lease, 3 of 1,210 messages were doubled over 8 Sentinel failovers; docs/operations.md).
LEASE_OVER_FAILOVER = 6.0


@contextlib.contextmanager
def two_hosts(
    tmp_path: Path, store_url: str, callback_url: str, **workers: float
) -> Iterator[list[int]]:
    options = {"lease": 2.0, "reclaim_idle": 2.0, **workers}
    a, port_a = gateway_config(tmp_path, store_url=store_url, callback_url=callback_url, **options)
    b, port_b = gateway_config(tmp_path, store_url=store_url, callback_url=callback_url, **options)
    with running_gateway(a, port_a, API_SECRET), running_gateway(b, port_b, API_SECRET):
        yield [port_a, port_b]


async def settle(
    fake: FakeCallback, traffic: Traffic, store_url: str, timeout: float = 60.0
) -> None:
    """Wait until every acknowledged message was answered (or ``timeout``), then until the
    pipeline is idle (no ticket left), so that anything sent twice has shown."""
    accepted = {s.event_id for s in traffic.sent if s.accepted_at is not None}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answered = {r.get("in_reply_to") for r in fake.delivered}
        if accepted <= answered:
            break
        fake.arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fake.arrived.wait(), timeout=0.5)
    store = open_store(store_url)
    try:
        await drained(store, timeout)
    finally:
        await store.close()


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
    with two_hosts(tmp_path, fault_cluster.url, url, lease=LEASE_OVER_FAILOVER) as ports:
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
        await settle(fake, traffic, fault_cluster.url)
    result = figures(
        traffic, fake.delivered, fault_at=fault_at, fault_end=fault_end, arrivals=arrivals(fake)
    )
    report(f"cluster primary kill -9 (failover {fault_end - fault_at:.1f} s)", result)
    fault_cluster.restart(victim)
    assert result.accepted > 80  # enough traffic for the figures to mean something
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
    with two_hosts(tmp_path, fault_sentinel.url, url, lease=LEASE_OVER_FAILOVER) as ports:
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
        await settle(fake, traffic, fault_sentinel.url)
    result = figures(
        traffic, fake.delivered, fault_at=fault_at, fault_end=fault_end, arrivals=arrivals(fake)
    )
    report(f"sentinel primary kill -9 (failover {fault_end - fault_at:.1f} s)", result)
    assert result.accepted > 80
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
            await settle(fake, traffic, server.url)
    finally:
        if server.process is not None:
            server.process.send_signal(signal.SIGCONT)
        server.stop()
    result = figures(
        traffic, fake.delivered, fault_at=fault_at, fault_end=fault_end, arrivals=arrivals(fake)
    )
    report("redis SIGSTOP 6 s (lease 2 s)", result)
    assert result.accepted > 100
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
        await settle(fake, traffic, redis_url)
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


NETNS_CONFIG = """
server: {{host: 0.0.0.0, port: {port}}}
store: {{url: "{store_url}"}}
workers: {{lease: 2, reclaim_idle: 2, shutdown_grace: 5}}
outbox: {{base_delay: 0.05, max_delay: 0.5, max_attempts: 50, timeout: 3}}
log: {{level: warning}}
channels:
  api: {{secret: "${{TEST_API_SECRET}}", callback_url: "{callback_url}"}}
"""


async def _ready(address: str, port: int, process: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as http:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, "the gateway exited"
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(f"http://{address}:{port}/readyz") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise AssertionError(f"gateway at {address}:{port} never ready")


async def test_a_host_cut_off_from_redis_is_taken_over_and_nothing_doubles(
    tmp_path: Path,
) -> None:
    """Two gateway "hosts" in their own network namespaces, each linked to Redis and the
    platform by a veth pair. Host A's link goes down for 8 s: its leases lapse, host B takes
    over A's conversations; when the link comes back, A finds its locks gone and sends
    nothing twice."""
    reason = netns.unavailable()
    if reason is not None:
        pytest.skip(f"network namespaces unavailable here: {reason}")
    hosts = [netns.Host.create(), netns.Host.create()]
    server = RedisServer(tmp_path / "redis", bind="0.0.0.0")
    server.directory.mkdir()
    fake = FakeCallback(secret=API_SECRET)
    app = web.Application()
    app.router.add_post("/callback", fake.handle)
    runner = web.AppRunner(app)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        server.start()
        await runner.setup()
        await web.TCPSite(runner, "0.0.0.0", 0).start()
        fake_port = runner.addresses[0][1]
        ports = []
        for i, host in enumerate(hosts):
            port = free_port()
            config = tmp_path / f"host-{i}.yml"
            config.write_text(
                NETNS_CONFIG.format(
                    port=port,
                    store_url=f"redis://{host.gateway_side}:{server.port}/0",
                    callback_url=f"http://{host.gateway_side}:{fake_port}/callback",
                )
            )
            args = [sys.executable, "-m", "frontdesk", "run", "--config", str(config)]
            processes.append(spawn(host.command(args), API_SECRET, tmp_path / f"host-{i}.log"))
            await _ready(host.address, port, processes[-1])
            ports.append(port)
        traffic = Traffic(ports, API_SECRET, [h.address for h in hosts], rate=40)
        sending = asyncio.create_task(traffic.run())
        await asyncio.sleep(3)
        fault_at = time.monotonic()
        hosts[0].cut()
        await asyncio.sleep(8)
        hosts[0].restore()
        fault_end = time.monotonic()
        await asyncio.sleep(3)
        traffic.stop()
        await sending
        await settle(fake, traffic, server.url)
        result = figures(
            traffic, fake.delivered, fault_at=fault_at, fault_end=fault_end,
            arrivals=arrivals(fake),
        )  # fmt: skip
        by_host = [
            sum(1 for r in fake.requests if r.headers.get("Host", "").startswith(h.gateway_side))
            for h in hosts
        ]
        report(f"host A cut off 8 s (replies sent by A / B: {by_host[0]} / {by_host[1]})", result)
        assert result.accepted > 150
        assert (result.lost, result.doubled, result.out_of_order) == (0, 0, 0)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        await runner.cleanup()
        server.stop()
        for host in hosts:
            host.remove()
