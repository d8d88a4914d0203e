"""Real Redis topologies for the tests: a 3-primary + 3-replica Redis Cluster, and a primary +
replica watched by 3 Sentinels, each on free ports with its own directory (no mocks).

Both keep their processes in ``nodes`` so fault tests can kill (``SIGKILL``) or pause
(``SIGSTOP``/``SIGCONT``) one of them; ``flush()`` empties every primary between tests.
"""

from __future__ import annotations

import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.cluster import RedisCluster

from tests.support.redis_server import free_port


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed (apt-get install redis-server)")
    return found


def _wait(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def cluster_port() -> int:
    """A free port with its cluster bus port (+10000) free too (so at most 55535)."""
    while True:
        port = random.randint(20000, 45000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port


@dataclass
class Node:
    port: int
    directory: Path
    args: list[str]
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = (self.directory / "server.log").open("ab")
        self.process = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis(port=self.port, socket_timeout=1)
        _wait(lambda: bool(client.ping()), f"redis on port {self.port}", 10)
        client.close()

    def kill(self) -> None:
        """kill -9: no shutdown, no final write."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2)


def _server_args(port: int, directory: Path, *extra: str) -> list[str]:
    return [
        _binary("redis-server"),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(directory),
        "--save", "",
        "--appendonly", "no",
        "--protected-mode", "no",
        "--loglevel", "warning",
        *extra,
    ]  # fmt: skip


@dataclass
class Cluster:
    """Six ``redis-server --cluster-enabled yes``: three primaries, one replica each."""

    directory: Path
    node_timeout_ms: int = 1000
    nodes: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[:3])

    def start(self) -> None:
        for i in range(6):
            port = cluster_port()
            d = self.directory / f"node-{i}"
            d.mkdir(parents=True, exist_ok=True)
            args = _server_args(
                port, d,
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(d / "nodes.conf"),
                "--cluster-node-timeout", str(self.node_timeout_ms),
                # A replica takes over however long it was cut off from its primary.
                "--cluster-replica-validity-factor", "0",
            )  # fmt: skip
            node = Node(port, d, args)
            node.start()
            self.nodes.append(node)
        create = [_binary("redis-cli"), "--cluster", "create"]
        create += [f"127.0.0.1:{n.port}" for n in self.nodes]
        create += ["--cluster-replicas", "1", "--cluster-yes"]
        subprocess.run(create, check=True, capture_output=True, timeout=60)
        self.wait_healthy()

    def live(self) -> list[Node]:
        return [n for n in self.nodes if n.process is not None]

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Every slot served, every live node agreeing, every primary with a replica in sync."""

        def healthy() -> bool:
            for node in self.live():
                with node.client() as c:
                    info = c.execute_command("CLUSTER INFO")
                    if info["cluster_state"] != "ok" or int(info["cluster_slots_ok"]) != 16384:
                        return False
            with self.client() as c:  # every primary takes writes
                for i in range(12):
                    c.set(f"fd:probe:{i}", "1", px=1000)
            return True

        _wait(healthy, "the cluster to be healthy", timeout)

    def client(self) -> RedisCluster:
        live = self.live()[0]
        return RedisCluster(host="127.0.0.1", port=live.port, socket_timeout=2)

    def primary_of(self, key: str) -> Node:
        """The node that currently serves ``key``'s slot."""
        with self.client() as c:
            node = c.get_node_from_key(key)
            port = int(node.port)
        return next(n for n in self.nodes if n.port == port)

    def primaries(self) -> list[Node]:
        found = []
        for node in self.live():
            with node.client() as c:
                if c.info("replication")["role"] == "master":
                    found.append(node)
        return found

    def flush(self) -> None:
        for node in self.primaries():
            with node.client() as c:
                c.flushall()

    def restart(self, node: Node) -> None:
        """Start a killed node again (it rejoins, as a replica of whoever took its slots)."""
        node.start()
        self.wait_healthy()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


@dataclass
class SentinelGroup:
    """A primary, one replica, three Sentinels watching them (``service`` = frontdesk)."""

    directory: Path
    service: str = "frontdesk"
    down_after_ms: int = 1000
    primary: Node | None = None
    replica: Node | None = None
    sentinels: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{self.service}"

    @property
    def data_nodes(self) -> list[Node]:
        return [n for n in (self.primary, self.replica) if n is not None]

    def start(self) -> None:
        p, r = free_port(), free_port()
        self.primary = Node(p, self.directory / "primary", [])
        self.primary.args = _server_args(p, self.primary.directory)
        self.primary.start()
        self.replica = Node(r, self.directory / "replica", [])
        self.replica.args = _server_args(
            r, self.replica.directory, "--replicaof", "127.0.0.1", str(p)
        )
        self.replica.start()
        _wait(lambda: self._replicating(self.replica), "the replica to sync")
        for i in range(3):
            port = free_port()
            d = self.directory / f"sentinel-{i}"
            d.mkdir(parents=True, exist_ok=True)
            conf = d / "sentinel.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {d}\n"
                f"sentinel monitor {self.service} 127.0.0.1 {p} 2\n"
                f"sentinel down-after-milliseconds {self.service} {self.down_after_ms}\n"
                f"sentinel failover-timeout {self.service} 5000\n"
                f"sentinel parallel-syncs {self.service} 1\n"
            )
            node = Node(port, d, [_binary("redis-server"), str(conf), "--sentinel"])
            node.start()
            self.sentinels.append(node)
        _wait(self._sentinels_agree, "the sentinels to see the replica and each other")

    @staticmethod
    def _replicating(node: Node | None) -> bool:
        assert node is not None
        with node.client() as c:
            return c.info("replication").get("master_link_status") == "up"

    def _sentinels_agree(self) -> bool:
        for s in self.sentinels:
            with s.client() as c:
                fields = c.sentinel_master(self.service)
                if int(fields["num-slaves"]) < 1 or int(fields["num-other-sentinels"]) < 2:
                    return False
        return True

    def current_primary(self) -> Node:
        with self.sentinels[0].client() as c:
            _, port = c.sentinel_get_master_addr_by_name(self.service)
        return next(n for n in self.data_nodes if n.port == int(port))

    def wait_promoted(self, old: Node, timeout: float = 30.0) -> Node:
        """Wait until the Sentinels name another primary than ``old`` and it takes writes."""

        def promoted() -> bool:
            new = self.current_primary()
            if new is old:
                return False
            with new.client() as c:
                return bool(c.set("fd:probe", "1", px=1000))

        _wait(promoted, "a replica to be promoted", timeout)
        return self.current_primary()

    def flush(self) -> None:
        with self.current_primary().client() as c:
            c.flushall()
            c.execute_command("WAIT", 1, 2000)

    def stop(self) -> None:
        for node in [*self.sentinels, *self.data_nodes]:
            node.stop()
