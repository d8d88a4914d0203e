"""Soak: two gateway processes under a steady signed load for a long time, one of them killed
(kill -9) and restarted every few minutes; prints throughput, gateway RSS and Redis memory
over time, then what was lost, doubled or answered out of order.

Everything is started here on 127.0.0.1: Redis (one server, or a 3 + 3 Redis Cluster with
``--store cluster``), a callback server counting replies, and two ``frontdesk run``.

  python benchmarks/soak.py [--minutes 30] [--rate 300] [--conversations 200]
                            [--kill-every 180] [--store single|cluster]

Redis memory reaches its steady state once dedup ids and sent markers expire as fast as they
arrive and the transcripts are full; ``--retention`` (store.transcript_retention, default
120 s, which caps those TTLs) and ``--transcript-limit`` (20) make that happen within minutes
instead of days. Pick ``--rate`` at half of what two processes
answer on your machine (``--rate 2000 --kill-every 9999 --minutes 1`` shows it). A killed
process's conversations wait for their lease and reclaim (2 s here) and are answered by the
other; the platform's retries (a 503 or a refused connection is sent again, same event id) go
to the survivor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import redis
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from channels.api import SIGNATURE_HEADER, sign
from tests.support.redis_server import RedisServer, free_port
from tests.support.redis_topologies import Cluster

CONFIG = """
server: {{host: 127.0.0.1, port: {port}}}
store:
  url: "{store_url}"
  transcript_retention: "{retention}s"
  transcript_limit: {transcript_limit}
workers: {{lease: 2, reclaim_idle: 2, shutdown_grace: 5}}
outbox: {{base_delay: 0.05, max_delay: 0.5, max_attempts: 50}}
limits: {{enabled: false}}
log: {{level: warning}}
channels:
  api: {{secret: "{secret}", callback_url: "{callback_url}"}}
"""


@dataclass
class Replies:
    """The fake platform: counts each reply by the event it answers, checks order."""

    by_event: Counter[str] = field(default_factory=Counter)
    last_seq: dict[str, int] = field(default_factory=dict)
    out_of_order: int = 0
    total: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.by_event[body.get("in_reply_to", "")] += 1
        self.total += 1
        conversation, _, seq = str(body.get("text", "")).removeprefix("echo: ").rpartition(" m")
        if seq.isdigit():
            if int(seq) < self.last_seq.get(conversation, -1):
                self.out_of_order += 1
            self.last_seq[conversation] = int(seq)
        return web.Response(status=200)


@dataclass
class Load:
    ports: list[int]
    secret: str
    rate: float
    conversations: int
    accepted: set[str] = field(default_factory=set)
    sent: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    stopping: bool = False
    _turn: int = 0

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=5)
        conn = aiohttp.TCPConnector(limit=self.conversations)
        async with aiohttp.ClientSession(timeout=timeout, connector=conn) as http:
            await asyncio.gather(*(self._converse(http, c) for c in range(self.conversations)))

    async def _converse(self, http: aiohttp.ClientSession, c: int) -> None:
        interval = self.conversations / self.rate
        await asyncio.sleep(interval * c / self.conversations)
        seq, start = 0, time.monotonic()
        while not self.stopping:
            await self._deliver(http, f"soak-c{c}", seq)
            seq += 1
            # paced on a schedule: a slow acknowledgement does not lower the offered rate
            await asyncio.sleep(max(0.0, start + seq * interval - time.monotonic()))

    async def _deliver(self, http: aiohttp.ClientSession, conversation: str, seq: int) -> None:
        event_id = f"{conversation}-m{seq}"
        body = json.dumps(
            {
                "id": event_id,
                "conversation_id": conversation,
                "user_id": f"u-{conversation}",
                "text": f"{conversation} m{seq}",
            }
        ).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.secret, body)}
        self.sent += 1
        delay = 0.1
        while True:
            self._turn += 1
            port = self.ports[self._turn % len(self.ports)]
            try:
                async with http.post(
                    f"http://127.0.0.1:{port}/webhooks/api", data=body, headers=headers
                ) as resp:
                    if resp.status == 200:
                        self.accepted.add(event_id)
                        return
                    self.refused[str(resp.status)] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.refused[type(exc).__name__] += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)


def rss_mib(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def redis_load(ports: list[int]) -> dict[int, tuple[int, float]]:
    """Per primary: (commands processed, CPU seconds used) so far."""
    found = {}
    for port in ports:
        with contextlib.suppress(redis.RedisError), redis.Redis(port=port) as c:
            if c.info("replication")["role"] == "master":
                cpu = c.info("cpu")
                commands = int(c.info("stats")["total_commands_processed"])
                found[port] = (commands, float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]))
    return found


def redis_memory_mib(ports: list[int]) -> float:
    total = 0
    for port in ports:
        with contextlib.suppress(redis.RedisError), redis.Redis(port=port) as c:
            info = c.info("memory")
            if c.info("replication")["role"] == "master":
                total += int(info["used_memory"])
    return total / 2**20


class Gateways:
    def __init__(
        self, tmp: Path, store_url: str, callback: str, secret: str, args: argparse.Namespace
    ) -> None:
        self.tmp, self.secret = tmp, secret
        self.ports = [free_port(), free_port()]
        self.configs = []
        for port in self.ports:
            path = tmp / f"gw-{port}.yml"
            path.write_text(
                CONFIG.format(
                    port=port,
                    store_url=store_url,
                    callback_url=callback,
                    secret=secret,
                    retention=args.retention,
                    transcript_limit=args.transcript_limit,
                )
            )
            self.configs.append(path)
        self.procs: list[subprocess.Popen[bytes] | None] = [None, None]

    def start(self, i: int) -> None:
        log = (self.tmp / f"gw-{i}.log").open("ab")
        self.procs[i] = subprocess.Popen(
            [sys.executable, "-m", "frontdesk", "run", "--config", str(self.configs[i])],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        )

    async def ready(self, i: int) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as http:
            for _ in range(300):
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(f"http://127.0.0.1:{self.ports[i]}/readyz") as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"gateway {i} never became ready (see {self.tmp}/gw-{i}.log)")

    def kill(self, i: int) -> None:
        proc = self.procs[i]
        if proc is not None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=15)
                if proc.poll() is None:
                    proc.kill()


async def soak(args: argparse.Namespace) -> int:
    secret = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmpdir:
        tmp = Path(tmpdir)
        if args.store == "cluster":
            cluster = Cluster(tmp / "cluster")
            cluster.start()
            store_url, redis_ports, stop_redis = (
                cluster.url,
                [n.port for n in cluster.nodes],
                cluster.stop,
            )
        else:
            server = RedisServer(tmp / "redis")
            server.directory.mkdir()
            server.start()
            store_url, redis_ports, stop_redis = server.url, [server.port], server.stop
        replies = Replies()
        app = web.Application()
        app.router.add_post("/callback", replies.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        cb_port = free_port()
        await web.TCPSite(runner, "127.0.0.1", cb_port).start()
        gateways = Gateways(tmp, store_url, f"http://127.0.0.1:{cb_port}/callback", secret, args)
        try:
            for i in (0, 1):
                gateways.start(i)
                await gateways.ready(i)
            load = Load(gateways.ports, secret, args.rate, args.conversations)
            before = redis_load(redis_ports)
            sending = asyncio.create_task(load.run())
            print(
                f"soak: {args.minutes} min, {args.rate:.0f} msg/s over {args.conversations} "
                f"conversations, 2 processes, kill -9 every {args.kill_every:.0f} s, "
                f"store {args.store}"
            )
            print(" t (s) | sent/s | answered/s | gw RSS MiB (a, b) | Redis MiB | kills")
            start = time.monotonic()
            end = start + args.minutes * 60
            next_kill = start + args.kill_every
            kills, victim = 0, 0
            last = (start, 0, 0)
            while time.monotonic() < end:
                await asyncio.sleep(min(args.report_every, max(0.1, end - time.monotonic())))
                now = time.monotonic()
                if now >= next_kill:
                    gateways.kill(victim)
                    kills += 1
                    gateways.start(victim)  # a supervisor restarts it
                    victim, next_kill = 1 - victim, next_kill + args.kill_every
                t0, sent0, answered0 = last
                span = max(now - t0, 1e-6)
                pids = [p.pid if p is not None else 0 for p in gateways.procs]
                print(
                    f"{now - start:6.0f} | {(load.sent - sent0) / span:6.0f} | "
                    f"{(replies.total - answered0) / span:10.0f} | "
                    f"{rss_mib(pids[0]):7.1f}, {rss_mib(pids[1]):7.1f} | "
                    f"{redis_memory_mib(redis_ports):9.1f} | {kills}",
                    flush=True,
                )
                last = (now, load.sent, replies.total)
            load.stopping = True
            await sending
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and any(  # noqa: ASYNC110 (a poll, by design)
                replies.by_event[e] == 0 for e in load.accepted
            ):
                await asyncio.sleep(0.5)
            await asyncio.sleep(3)
            after = redis_load(redis_ports)
            answered = max(1, replies.total)
            for port, (commands, cpu) in sorted(after.items()):
                commands0, cpu0 = before.get(port, (0, 0.0))
                print(
                    f"redis primary :{port}: {(commands - commands0) / answered:.1f} commands "
                    f"and {(cpu - cpu0) / answered * 1e6:.0f} µs of CPU per answered message"
                )
            lost = sum(1 for e in load.accepted if replies.by_event[e] == 0)
            doubled = sum(n - 1 for e, n in replies.by_event.items() if n > 1)
            refused = ", ".join(f"{k} {v}" for k, v in sorted(load.refused.items())) or "none"
            print(
                f"RESULT: sent {load.sent}, accepted {len(load.accepted)}, answered "
                f"{len(load.accepted) - lost}, lost {lost}, doubled {doubled}, out of order "
                f"{replies.out_of_order}, kills {kills}; refused attempts (retried): {refused}"
            )
            return 0 if lost == 0 and doubled == 0 and replies.out_of_order == 0 else 1
        finally:
            gateways.stop()
            await runner.cleanup()
            stop_redis()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=300.0, help="messages a second offered")
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--kill-every", type=float, default=180.0, help="seconds between kills")
    parser.add_argument("--report-every", type=float, default=30.0)
    parser.add_argument("--store", choices=["single", "cluster"], default="single")
    # Short retention so that a run of minutes reaches the steady state a deployment reaches
    # in days (dedup ids expire as fast as they come, transcripts are full): memory then stays
    # flat unless something leaks.
    parser.add_argument(
        "--retention",
        type=float,
        default=120.0,
        help="store.transcript_retention (s): caps dedup ids, sent markers and sessions",
    )
    parser.add_argument("--transcript-limit", type=int, default=20)
    return asyncio.run(soak(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
