"""Stored conversations for ``gateway_throughput.py --stored N``: N copies of one real one.

The gateway first answers one whole conversation (the example bot's six questions); every key
it wrote for it (session, transcript, dedup ``seen:`` and ``sent:`` markers, whatever the
layout is in this checkout) is read back with DUMP and PTTL, and written N times under new
names with RESTORE through ``redis-cli --pipe``: the same key layout, encodings, sizes and
TTLs as the gateway's own, at tens of thousands of conversations a second. The names differ
only in the run token (same length), so each copy is its own conversation in its own slot.
Redis memory (INFO ``used_memory``) is read before and after.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis
from loadgen import Replies, api_load, drive, wait_replies

BATCH = 2000  # conversations per chunk written to redis-cli


@dataclass(frozen=True)
class Seeded:
    conversations: int
    keys: int  # per conversation
    messages: int  # transcript entries per conversation (customer messages and replies)
    used_memory: int  # bytes Redis used after the seeding minus before
    seconds: float
    layout: str  # the key families of one conversation, e.g. "seen:* x6, session"

    @property
    def per_conversation(self) -> float:
        return self.used_memory / max(1, self.conversations)

    @property
    def per_message(self) -> float:
        return self.per_conversation / max(1, self.messages)

    def summary(self) -> str:
        return (
            f"{self.conversations:,} conversations seeded in {self.seconds:.1f} s "
            f"({self.keys} keys and {self.messages} transcript entries each): "
            f"{self.per_conversation:,.0f} bytes per conversation, "
            f"{self.per_message:,.0f} bytes per stored message\n"
            f"                       keys of one: {self.layout}"
        )


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


Parts = list[tuple[bytes, list[bytes], bytes]]


def _family(name: bytes) -> str:
    suffix = name.decode(errors="replace").partition("}:")[2] or name.decode(errors="replace")
    head, sep, _ = suffix.partition(":")
    return f"{head}:*" if sep and head in ("seen", "sent") else suffix


def _commands(client: Any, token: bytes) -> tuple[Parts, int, str]:
    """Per template key: the RESP head, its name split at ``token``, the RESP tail; the
    template's transcript length; its key families."""
    parts, messages, families = [], 0, Counter[str]()
    for name in client.scan_iter(match=b"*" + token + b"*", count=1000):
        ttl, dump = client.pttl(name), client.dump(name)
        if dump is None:  # expired meanwhile
            continue
        if name.endswith(b":transcript"):
            messages = int(client.llen(name))
        head = b"*5\r\n$7\r\nRESTORE\r\n$%d\r\n" % len(name)
        tail = b"\r\n" + _bulk(b"%d" % max(0, ttl)) + _bulk(dump) + b"$7\r\nREPLACE\r\n"
        parts.append((head, name.split(token), tail))
        families[_family(name)] += 1
    if not parts:
        raise RuntimeError(f"no keys hold {token!r}: nothing to copy")
    layout = ", ".join(f"{f} x{c}" if c > 1 else f for f, c in sorted(families.items()))
    return parts, messages, layout


def _chunks(parts: Parts, width: int, n: int) -> Iterator[bytes]:
    for start in range(0, n, BATCH):
        out = []
        for i in range(start, min(n, start + BATCH)):
            new = b"seed-%0*d-" % (width, i)
            out += [head + new.join(names) + tail for head, names, tail in parts]
        yield b"".join(out)


def seed(client: redis.Redis, port: int, token: str, n: int) -> Seeded:
    """Copy the keys naming ``token`` (``bench-<hex>-``) ``n`` times; the memory it took."""
    raw = token.encode()
    width = len(raw) - len(b"seed--")  # keep every name's length
    if n >= 10**width:
        raise ValueError(f"at most {10**width - 1:,} stored conversations with {token!r}")
    parts, messages, layout = _commands(client, raw)
    client.execute_command("MEMORY", "PURGE")
    before = int(client.info("memory")["used_memory"])
    started = time.perf_counter()
    cli = subprocess.Popen(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), "--pipe"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert cli.stdin is not None and cli.stdout is not None
    for chunk in _chunks(parts, width, n):
        cli.stdin.write(chunk)
    cli.stdin.close()
    report = cli.stdout.read().decode(errors="replace")
    if cli.wait() != 0 or "errors: 0," not in report:
        raise RuntimeError(f"redis-cli --pipe: {report.strip()}")
    seconds = time.perf_counter() - started
    client.execute_command("MEMORY", "PURGE")
    used = int(client.info("memory")["used_memory"]) - before
    return Seeded(n, len(parts), messages, used, seconds, layout)


async def stored_conversations(
    urls: list[str],
    secret: str,
    replies: Replies,
    texts: tuple[str, ...] | None,
    client: redis.Redis,
    port: int,
    n: int,
) -> Seeded:
    """One whole conversation through the gateway (``texts``, or six echo messages), settled
    (no lock, inbox or outbox left), then ``n`` copies of its keys."""
    template = api_load(secret, len(texts or "123456"), 1, texts)
    replies.reset(template.texts)
    acks = await drive(urls, template, 1, 30.0)
    await wait_replies(replies, set(acks.ack), 60, 30)
    if len(acks.ack) != template.size or not set(acks.ack) <= set(replies.arrived):
        raise RuntimeError("the template conversation was not answered in full")
    token = template.conversations[0][0][0].rsplit("-", 2)[0] + "-"  # bench-<hex>-
    busy = (b":lock", b":turns", b":sends")
    for _ in range(200):  # the last reply's sent marker is written after the callback's 200
        names = client.scan_iter(match=f"*{token}*".encode(), count=1000)
        if not any(name.endswith(busy) for name in names):
            break
        await asyncio.sleep(0.05)
    return await asyncio.to_thread(seed, client, port, token, n)
