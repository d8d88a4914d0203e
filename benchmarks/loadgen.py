"""The load generator the throughput benchmarks share: one client, one workload, one report.

``gateway_throughput.py`` and ``rasa_side_by_side.py`` drive Frontdesk, a bare aiohttp handler
and Rasa with the same :func:`drive`: each conversation sends its messages in order, awaiting
each answer, at most ``concurrency`` requests in flight. Every figure is printed next to a
reference measured by the same client in the same run, because the machine is shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from channels.api import SIGNATURE_HEADER, sign, signature_matches

HOST = "127.0.0.1"
Body = tuple[str, bytes, dict[str, str]]  # event id, raw body, headers
Procs = list[subprocess.Popen[bytes]]
ROOT = Path(__file__).resolve().parents[1]

# The example bot's workload: texts of intents it answers from its own flows (no order service,
# no handoff), one per message in turn.
EXAMPLE_TEXTS = (
    "hi",
    "what's your return policy",
    "what are your opening hours",
    "how long does shipping take",
    "which payment methods do you accept",
    "thanks",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (seconds), nearest rank; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


# ------------------------------------------------------------------------------ the workload


@dataclass
class Load:
    conversations: list[list[Body]]  # per conversation, in sending order
    texts: dict[str, str] = field(default_factory=dict)  # event id -> expected reply (echo)

    @property
    def size(self) -> int:
        return sum(len(c) for c in self.conversations)


def api_load(secret: str, n: int, m: int, texts: tuple[str, ...] | None) -> Load:
    """``n`` signed messages for the API channel over ``m`` conversations; ``texts`` in turn,
    or (None) ``m<seq>`` for the echo dialog, whose reply is checked."""
    run, load = secrets.token_hex(4), Load([[] for _ in range(m)])
    for i in range(n):
        c, seq = i % m, i // m
        event_id = f"bench-{run}-{c}-{seq}"
        text = texts[i % len(texts)] if texts else f"m{seq}"
        data = {"id": event_id, "conversation_id": f"bench-{run}-c{c}"}
        raw = json.dumps({**data, "user_id": f"bench-{run}-u{c}", "text": text}).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, raw)}
        load.conversations[c].append((event_id, raw, headers))
        if not texts:
            load.texts[event_id] = f"echo: {text}"
    return load


def rasa_load(n: int, m: int, texts: tuple[str, ...]) -> Load:
    """The same conversations for Rasa's REST channel: ``{"sender", "message"}``."""
    run, load = secrets.token_hex(4), Load([[] for _ in range(m)])
    for i in range(n):
        c, seq = i % m, i // m
        raw = json.dumps({"sender": f"bench-{run}-c{c}", "message": texts[i % len(texts)]})
        load.conversations[c].append((f"{c}-{seq}", raw.encode(), {}))
    return load


# -------------------------------------------------------------------------------- the client


@dataclass
class Result:
    sent_at: dict[str, float] = field(default_factory=dict)
    ack: dict[str, float] = field(default_factory=dict)  # event id -> request-to-200 seconds
    bodies: dict[str, bytes] = field(default_factory=dict)  # event id -> answer (keep=True)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.ack) / self.elapsed if self.elapsed else 0.0


async def drive(
    urls: list[str],
    load: Load,
    concurrency: int,
    per_request: float,
    rate: float = 0.0,
    keep: bool = False,
) -> Result:
    """Each conversation sends in order, awaiting each 200; at most ``concurrency`` in flight;
    with ``rate`` > 0, requests start no faster than ``rate`` per second overall. Messages go
    to ``urls`` in turn. ``keep``: keep each answer's body (Rasa answers with the replies)."""
    result, sem = Result(), asyncio.Semaphore(concurrency)
    slots = iter(range(load.size))
    turn = iter(range(load.size))
    start = time.perf_counter()

    async def conversation(http: aiohttp.ClientSession, bodies: list[Body]) -> None:
        for event_id, raw, headers in bodies:
            url = urls[next(turn) % len(urls)]
            if rate > 0:
                due = start + next(slots) / rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            async with sem:
                result.sent_at[event_id] = t0 = time.perf_counter()
                try:
                    async with http.post(url, data=raw, headers=headers) as resp:
                        body = await resp.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    result.errors[type(exc).__name__] += 1
                    continue
                if resp.status == 200:
                    result.ack[event_id] = time.perf_counter() - t0
                    if keep:
                        result.bodies[event_id] = body
                else:
                    result.errors[f"HTTP {resp.status}"] += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=per_request)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        start = time.perf_counter()
        await asyncio.gather(*(conversation(http, c) for c in load.conversations if c))
        result.elapsed = time.perf_counter() - start
    return result


# ------------------------------------------------------------------- replies (the callback)


@dataclass
class Replies:
    """The callback server's records: arrival times per in_reply_to, arrival order per chat,
    and each reply's own key (a key twice is a duplicate send)."""

    secret: str
    texts: dict[str, str] = field(default_factory=dict)
    arrived: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    order: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    keys: Counter[str] = field(default_factory=Counter)
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
        self.keys[str(data.get("id"))] += 1
        self.order[str(data.get("conversation_id"))].append(ref)
        if ref in self.texts and data.get("text") != self.texts[ref]:
            self.bad["wrong text"] += 1
        self.event.set()
        return web.json_response({"ok": True})

    def reset(self, texts: dict[str, str]) -> None:
        self.texts, self.bad = texts, Counter()
        self.arrived.clear()
        self.order.clear()
        self.keys.clear()

    async def serve(self) -> tuple[web.AppRunner, int]:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, HOST, port).start()
        return runner, port


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


@dataclass(frozen=True)
class Turns:
    """Whole turns: a message in, its first reply out at the callback."""

    received: int
    rate: float  # turns/s from the first request to the last first reply
    p50: float  # request to first reply, seconds
    p99: float
    ok: bool
    summary: str


def whole_turns(load: Load, r: Result, replies: Replies) -> Turns:
    want = set(r.ack)
    got = want.intersection(replies.arrived)
    dup = sum(n - 1 for n in replies.keys.values() if n > 1)
    unexpected = len(set(replies.arrived) - want)
    e2e = [replies.arrived[e][0] - r.sent_at[e] for e in got]
    span = max((replies.arrived[e][0] for e in got), default=0.0) - min(r.sent_at.values())
    disorder = 0
    for bodies in load.conversations:
        if bodies:
            chat = json.loads(bodies[0][1])["conversation_id"]
            seen = list(dict.fromkeys(e for e in replies.order.get(chat, []) if e in got))
            disorder += seen != [e for e, _, _ in bodies if e in got]
    counts = {"received": len(got), "lost": len(want) - len(got), "duplicated": dup}
    counts |= {"unexpected": unexpected, "out-of-order conversations": disorder, **replies.bad}
    ok = len(got) == len(want) == load.size and not dup and not disorder and not replies.bad
    return Turns(
        received=len(got),
        rate=len(got) / span if got and span > 0 else 0.0,
        p50=pct(e2e, 0.5),
        p99=pct(e2e, 0.99),
        ok=ok,
        summary="  ".join(f"{k} {v}" for k, v in counts.items()),
    )


# ----------------------------------------------------------------------------- processes


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux /proc; just ``pid`` elsewhere)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
    return found


def cpu_seconds(pids: list[int], system: bool = False) -> float:
    """User + system CPU seconds used so far by ``pids`` (only system: ``system``; Linux
    /proc, 0 elsewhere): a figure that other load on a shared machine inflates much less than
    wall time."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[12]) + (0 if system else int(fields[11]))  # stime, utime
    return total / os.sysconf("SC_CLK_TCK")


def spawn(
    cmd: list[str],
    log: Path,
    procs: Procs,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> None:
    """Start ``cmd`` in its own session (a Ctrl-C reaches only us; we stop them in order).
    ``cwd`` matters for ``python -m``: the working directory comes first on its import path."""
    with log.open("wb") as out:
        procs.append(
            subprocess.Popen(cmd, stdout=out, stderr=out, start_new_session=True, env=env, cwd=cwd)
        )


def stop(procs: Procs, only: Callable[[subprocess.Popen[bytes]], bool] | None = None) -> None:
    """Newest first (the gateway before its redis): TERM, then KILL after 40 s."""
    for proc in reversed([p for p in procs if only is None or only(p)]):
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        procs.remove(proc)


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


def serve_bare(port: int, secret: str) -> None:
    """The reference: read, verify the HMAC, 200 (run as a subprocess)."""

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
