"""Throughput and latency of the generic API channel end to end, next to a bare aiohttp baseline.

By default everything is started here on 127.0.0.1: a throwaway redis-server, a callback server
recording each reply, one ``frontdesk run`` and a bare aiohttp handler (HMAC check + 200), both
in subprocesses. With --url/--secret a running gateway is measured instead; its
channels.api.callback_url must point at http://127.0.0.1:<--callback-port>/.

  python benchmarks/gateway_throughput.py [--messages N] [--conversations M] [--concurrency C]
                                          [--rate R] [--processes P]

Without --rate the load is as fast as the gateway acknowledges, which queues work faster than
one process can answer it: the end-to-end figures then measure the backlog. With --rate below
the reply rate they measure a turn's real latency.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from channels.api import SIGNATURE_HEADER, sign, signature_matches

HOST = "127.0.0.1"
Body = tuple[str, bytes, str]  # event id, raw body, signature
Procs = list[subprocess.Popen[bytes]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> str:
    if not values:
        return "     n/a"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000:8.1f} ms"


def serve_bare(port: int, secret: str) -> None:
    """The baseline (run as ``--serve-bare PORT --secret S``): read, verify the HMAC, 200."""

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        if not signature_matches(secret, body, request.headers.get(SIGNATURE_HEADER)):
            return web.Response(status=403)
        return web.Response(body=b'{"ok":true}', content_type="application/json")

    async def ready(request: web.Request) -> web.Response:
        return web.json_response({"status": "ready"})

    app = web.Application()
    app.router.add_post("/webhooks/api", handle)
    app.router.add_get("/readyz", ready)
    web.run_app(app, host=HOST, port=port, print=None, access_log=None)


@dataclass
class Load:
    conversations: list[list[Body]]  # per conversation, in sending order
    texts: dict[str, str] = field(default_factory=dict)  # event id -> expected reply text


def make_load(secret: str, n: int, m: int) -> Load:
    run, load = secrets.token_hex(4), Load([[] for _ in range(m)])
    for i in range(n):
        c, seq = i % m, i // m
        event_id = f"bench-{run}-{c}-{seq}"
        data = {"id": event_id, "conversation_id": f"bench-{run}-c{c}"}
        raw = json.dumps({**data, "user_id": f"bench-{run}-u{c}", "text": f"m{seq}"}).encode()
        load.conversations[c].append((event_id, raw, sign(secret, raw)))
        load.texts[event_id] = f"echo: m{seq}"
    return load


@dataclass
class Replies:
    """The callback server's records: arrival times per in_reply_to, arrival order per chat."""

    secret: str
    texts: dict[str, str] = field(default_factory=dict)
    arrived: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    order: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    bad: Counter[str] = field(default_factory=Counter)
    event: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        now = time.perf_counter()
        body = await request.read()
        if not signature_matches(self.secret, body, request.headers.get(SIGNATURE_HEADER)):
            self.bad["bad signature"] += 1
            return web.Response(status=403)
        data = json.loads(body)
        ref = str(data.get("in_reply_to"))
        self.arrived[ref].append(now)
        self.order[str(data.get("conversation_id"))].append(ref)
        if ref in self.texts and data.get("text") != self.texts[ref]:
            self.bad["wrong text"] += 1
        self.event.set()
        return web.json_response({"ok": True})

    def reset(self, texts: dict[str, str]) -> None:
        self.texts, self.bad = texts, Counter()
        self.arrived.clear()
        self.order.clear()


@dataclass
class Result:
    sent_at: dict[str, float] = field(default_factory=dict)
    ack: dict[str, float] = field(default_factory=dict)  # event id -> request-to-200 seconds
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0


async def drive(
    urls: list[str], load: Load, concurrency: int, per_request: float, rate: float = 0.0
) -> Result:
    """Each conversation sends in order, awaiting each 200; at most ``concurrency`` in flight;
    with ``rate`` > 0, requests start no faster than ``rate`` per second overall. Messages go
    to ``urls`` in turn (several gateway processes behind a round-robin balancer)."""
    result, sem = Result(), asyncio.Semaphore(concurrency)
    slots = iter(range(sum(len(c) for c in load.conversations)))
    start = time.perf_counter()

    turn = iter(range(sum(len(c) for c in load.conversations)))

    async def conversation(http: aiohttp.ClientSession, bodies: list[Body]) -> None:
        for event_id, raw, signature in bodies:
            url = urls[next(turn) % len(urls)]
            headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
            if rate > 0:
                due = start + next(slots) / rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            async with sem:
                result.sent_at[event_id] = t0 = time.perf_counter()
                try:
                    async with http.post(url, data=raw, headers=headers) as resp:
                        await resp.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    result.errors[type(exc).__name__] += 1
                    continue
                if resp.status == 200:
                    result.ack[event_id] = time.perf_counter() - t0
                else:
                    result.errors[f"HTTP {resp.status}"] += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=per_request)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        start = time.perf_counter()
        await asyncio.gather(*(conversation(http, c) for c in load.conversations if c))
        result.elapsed = time.perf_counter() - start
    return result


async def wait_replies(replies: Replies, want: set[str], within: float, stall: float) -> None:
    """Until every wanted reply is in, ``within`` seconds pass, or ``stall`` without progress."""
    deadline = time.monotonic() + within
    last_count, last_progress = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = len(want.intersection(replies.arrived))
        if count == len(want):
            await asyncio.sleep(0.5)  # a short grace to catch duplicates
            return
        if count != last_count:
            last_count, last_progress = count, time.monotonic()
        elif time.monotonic() - last_progress > stall:
            return
        replies.event.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(replies.event.wait(), 1.0)


async def wait_ready(url: str, proc: subprocess.Popen[bytes] | None, within: float) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(url) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {within:.0f} s")


def report_load(name: str, n: int, r: Result) -> float:
    rate = len(r.ack) / r.elapsed if r.elapsed else 0.0
    lat = list(r.ack.values())
    print(name)
    print(f"  acknowledged  {len(r.ack)}/{n} in {r.elapsed:.2f} s  ->  {rate:,.0f} msg/s")
    print(f"  ack latency   p50 {pct(lat, 0.5)}   p99 {pct(lat, 0.99)}")
    print(f"  ack errors    {', '.join(f'{k}: {v}' for k, v in r.errors.items()) or 'none'}")
    return rate


def report_replies(load: Load, r: Result, replies: Replies) -> bool:
    want = set(r.ack)
    got = want.intersection(replies.arrived)
    dup = sum(len(replies.arrived[e]) > 1 for e in got)
    unexpected = len(set(replies.arrived) - want)
    e2e = [replies.arrived[e][0] - r.sent_at[e] for e in got]
    span = max((replies.arrived[e][0] for e in got), default=0.0) - min(r.sent_at.values())
    disorder = 0
    for bodies in load.conversations:
        if bodies:
            chat = json.loads(bodies[0][1])["conversation_id"]
            seen = list(dict.fromkeys(e for e in replies.order.get(chat, []) if e in got))
            disorder += seen != [e for e, _, _ in bodies if e in got]
    rate = len(got) / span if got and span > 0 else 0.0
    print(f"  end-to-end    p50 {pct(e2e, 0.5)}   p99 {pct(e2e, 0.99)}")
    print(f"  replies       {len(got)}/{len(want)} by {span:.2f} s  ->  {rate:,.0f} replies/s")
    counts = {"received": len(got), "lost": len(want) - len(got), "duplicated": dup}
    counts |= {"unexpected": unexpected, "out-of-order conversations": disorder, **replies.bad}
    print("  " + "  ".join(f"{k} {v}" for k, v in counts.items()))
    return len(got) == len(want) and not dup and not disorder and not replies.bad


def spawn(cmd: list[str], log: Path, procs: Procs, env: dict[str, str] | None = None) -> None:
    with log.open("wb") as out:  # own session: a Ctrl-C reaches only us, we stop them in order
        procs.append(subprocess.Popen(cmd, stdout=out, stderr=out, start_new_session=True, env=env))


def stop(procs: Procs) -> None:
    """Newest first (the gateway before its redis): TERM, then KILL after 15 s."""
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


async def start_gateways(
    tmp: Path, secret: str, callback: str, procs: Procs, count: int
) -> list[str]:
    """One redis-server and ``count`` ``frontdesk run`` processes sharing it."""
    redis_port = free_port()
    redis = shutil.which("redis-server") or "/usr/bin/redis-server"
    cmd = [redis, "--bind", HOST, "--port", str(redis_port), "--save", "", "--appendonly", "no"]
    spawn([*cmd, "--dir", str(tmp)], tmp / "redis.log", procs)
    urls = []
    for n in range(count):
        port = free_port()
        config = {
            "server": {"host": HOST, "port": port, "public_url": f"http://{HOST}:{port}"},
            "store": {"url": f"redis://{HOST}:{redis_port}/0"},
            "log": {"level": "warning"},
            "limits": {"enabled": False},  # a load generator is a flood by design
            "channels": {"api": {"secret": "${BENCH_API_SECRET}", "callback_url": callback}},
        }
        path = tmp / f"frontdesk-{n}.yml"
        path.write_text(json.dumps(config))  # JSON is YAML
        cmd = [sys.executable, "-m", "frontdesk", "run", "--config", str(path)]
        spawn(cmd, tmp / f"gateway-{n}.log", procs, env={**os.environ, "BENCH_API_SECRET": secret})
        await wait_ready(f"http://{HOST}:{port}/readyz", procs[-1], 30)
        urls.append(f"http://{HOST}:{port}")
    return urls


async def main_async(args: argparse.Namespace, tmp: Path, procs: Procs) -> int:
    secret = args.secret or secrets.token_hex(16)
    n, m, c, per_request = args.messages, args.conversations, args.concurrency, args.timeout
    replies = Replies(secret)
    cb_app = web.Application()
    cb_app.router.add_post("/{tail:.*}", replies.handle)
    cb_runner = web.AppRunner(cb_app, access_log=None)
    await cb_runner.setup()
    cb_port = args.callback_port or free_port()
    await web.TCPSite(cb_runner, HOST, cb_port).start()
    try:
        if args.url:
            gateways = [args.url.rstrip("/")]
            await wait_ready(gateways[0] + "/readyz", None, 30)
        else:
            callback = f"http://{HOST}:{cb_port}/"
            gateways = await start_gateways(tmp, secret, callback, procs, args.processes)
        gateway = ", ".join(gateways)
        hooks = [g + "/webhooks/api" for g in gateways]
        bare_port = free_port()
        spawn(
            [sys.executable, __file__, "--serve-bare", str(bare_port), "--secret", secret],
            tmp / "bare.log",
            procs,
        )
        bare_proc = procs[-1]
        bare = f"http://{HOST}:{bare_port}"
        await wait_ready(bare + "/readyz", bare_proc, 30)
        offered = f", offered {args.rate:,.0f} msg/s" if args.rate > 0 else ""
        print(f"load: {n} messages, {m} conversations, concurrency {c}{offered}")
        print(f"gateway {gateway}, callback http://{HOST}:{cb_port}/, bare {bare}")

        warm = make_load(secret, min(m, 50), min(m, 50))  # connections, redis groups, caches
        replies.reset(warm.texts)
        await drive([bare + "/webhooks/api"], warm, c, per_request)
        warmed = await drive(hooks, warm, c, per_request)
        await wait_replies(replies, set(warmed.ack), 60, 45)

        load = make_load(secret, n, m)
        bare_result = await drive([bare + "/webhooks/api"], load, c, per_request, args.rate)
        stop([bare_proc])
        procs.remove(bare_proc)
        replies.reset(load.texts)
        gw_result = await drive(hooks, load, c, per_request, args.rate)
        await wait_replies(replies, set(gw_result.ack), args.reply_timeout, args.reply_stall)

        print()
        gw_rate = report_load("gateway (200 = durably queued)", n, gw_result)
        ok = report_replies(load, gw_result, replies)
        bare_rate = report_load("\nbare aiohttp (HMAC check + 200)", n, bare_result)
        ratio = f"{gw_rate / bare_rate:.3f}" if bare_rate else "n/a"
        print(f"\nthroughput gateway/bare: {ratio}  ({gw_rate:,.0f} / {bare_rate:,.0f} msg/s)")
        ok = ok and len(gw_result.ack) == n and len(bare_result.ack) == n
        print("result: OK" if ok else "result: PROBLEMS (see above)")
        return 0 if ok else 1
    finally:
        await cb_runner.cleanup()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--messages", type=int, default=20000)
    p.add_argument("--conversations", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument(
        "--rate", type=float, default=0.0, help="offered messages/s (default: as fast as acked)"
    )
    p.add_argument(
        "--processes", type=int, default=1, help="gateway processes sharing one Redis (default 1)"
    )
    p.add_argument("--url", help="base URL of a running gateway (default: start one here)")
    p.add_argument("--secret", help="channels.api.secret of the running gateway")
    p.add_argument("--callback-port", type=int, help="port of that gateway's callback_url")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    p.add_argument("--reply-timeout", type=float, default=600.0, help="seconds for all replies")
    p.add_argument("--reply-stall", type=float, default=75.0, help="> workers.reclaim_idle")
    p.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve_bare is not None:
        serve_bare(args.serve_bare, args.secret)
        return 0
    if args.url and not (args.secret and args.callback_port):
        p.error("--url needs --secret and --callback-port")
    if min(args.messages, args.conversations, args.concurrency) < 1:
        p.error("--messages, --conversations and --concurrency must be positive")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    procs: Procs = []
    tmp = Path(tempfile.mkdtemp(prefix="frontdesk-bench-"))
    code = 2
    try:
        code = asyncio.run(main_async(args, tmp, procs))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except Exception as exc:
        print(f"error: {exc!r}", file=sys.stderr)
        for log in sorted(tmp.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-20:]
            print(f"--- {log.name} (last lines)", *tail, sep="\n", file=sys.stderr)
    finally:
        stop(procs)
        if code == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"logs kept in {tmp}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
