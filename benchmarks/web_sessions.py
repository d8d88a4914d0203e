"""Concurrent website-chat sessions against one ``frontdesk run``: messages/s, reply latency,
and the gateway's memory per open widget socket.

Starts here on 127.0.0.1: a throwaway redis-server (``--store redis``, the default) and one
``frontdesk run`` with the echo bot (so the figures are the channel and the pipeline, not the
NLU). Opens N widget WebSockets (hello, visitor token), notes the gateway's RSS before and after
(memory per open socket), then every session sends M messages, each after the previous reply;
latency is from sending a message to its reply arriving on the socket.

  python benchmarks/web_sessions.py [--sessions N] [--messages M] [--store redis|memory]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Session:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.latencies: list[float] = []

    async def run(self, messages: int) -> None:
        for n in range(messages):
            text = f"m{n}-{uuid.uuid4().hex[:6]}"
            sent = time.perf_counter()
            frame = {"type": "message", "client_id": uuid.uuid4().hex, "text": text}
            await self.ws.send_str(json.dumps(frame))
            async for message in self.ws:
                data = json.loads(message.data)
                if data["type"] == "entry" and data["text"] == f"echo: {text}":
                    self.latencies.append(time.perf_counter() - sent)
                    break
                if data["type"] == "error":
                    raise RuntimeError(data)


async def open_session(http: aiohttp.ClientSession, url: str, origin: str) -> Session:
    ws = await http.ws_connect(url, headers={"Origin": origin}, max_msg_size=0)
    await ws.send_str(json.dumps({"type": "hello"}))
    async for message in ws:
        if json.loads(message.data)["type"] == "synced":
            break
    return Session(ws)


async def wait_ready(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the gateway did not start")


async def measure(args: argparse.Namespace, port: int, pid: int) -> None:
    base = f"http://{HOST}:{port}"
    await wait_ready(f"{base}/readyz")
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        warm = await open_session(http, f"{base}/web/socket", base)
        await warm.run(3)
        await asyncio.sleep(0.5)
        before = rss_kib(pid)
        sessions = []
        for start in range(0, args.sessions, 100):  # at most 100 handshakes at a time
            batch = range(start, min(args.sessions, start + 100))
            sessions += await asyncio.gather(
                *(open_session(http, f"{base}/web/socket", base) for _ in batch)
            )
        await asyncio.sleep(0.5)
        after = rss_kib(pid)
        began = time.perf_counter()
        await asyncio.gather(*(s.run(args.messages) for s in sessions))
        elapsed = time.perf_counter() - began
        latencies = [x for s in sessions for x in s.latencies]
        for s in [warm, *sessions]:
            await s.ws.close()
    total = len(latencies)
    print(f"store: {args.store}; {args.sessions} widget sessions x {args.messages} messages")
    print(f"messages/s (each answered): {total / elapsed:.0f}  ({total} in {elapsed:.2f} s)")
    print(
        f"reply latency: p50 {pct(latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {pct(latencies, 0.99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
    )
    print(
        f"gateway RSS: {before / 1024:.1f} MiB idle, {after / 1024:.1f} MiB with the sockets open: "
        f"{(after - before) / args.sessions:.1f} KiB per open socket"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--store", choices=["redis", "memory"], default="redis")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = "memory://"
        if args.store == "redis":
            redis_port = free_port()
            redis = shutil.which("redis-server") or "/usr/bin/redis-server"
            cmd = [redis, "--bind", HOST, "--port", str(redis_port), "--save", ""]
            cmd += ["--appendonly", "no", "--dir", tmp]
            procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL))
            store = f"redis://{HOST}:{redis_port}/0"
        port = free_port()
        limits = args.messages * 10 + 10
        config = {
            "server": {"host": HOST, "port": port, "public_url": f"http://{HOST}:{port}"},
            "store": {"url": store},
            "log": {"level": "warning"},
            "channels": {
                "web": {
                    "token_secret": "benchmark-secret",
                    "messages_per_minute": limits,
                    "ip_messages_per_minute": 1_000_000,
                    "ip_conversations_per_hour": 1_000_000,
                }
            },
        }
        path = Path(tmp) / "config.yml"
        path.write_text(json.dumps(config))  # JSON is YAML
        env = {**os.environ, "PYTHONPATH": str(root)}
        cmd = [sys.executable, "-m", "frontdesk", "run", "--config", str(path)]
        log = (Path(tmp) / "gateway.log").open("wb")
        gateway = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=log)
        procs.append(gateway)
        try:
            asyncio.run(measure(args, port, gateway.pid))
        except BaseException:
            print((Path(tmp) / "gateway.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            for proc in reversed(procs):
                proc.terminate()
                proc.wait(timeout=20)


if __name__ == "__main__":
    main()
