"""Response times of the admin console's pages and API with many conversations in the store.

  python benchmarks/console_pages.py [--conversations 100000] [--days 30] [--redis URL]

Without ``--redis`` it starts its own redis-server (a scratch database: it is flushed). It
fills the store with N conversations spread over the last D days, as the gateway lays them out
(session, transcript) and as the console records them — each turn through the console's own
``write_turn``, the code the worker's observer runs: three customer messages with the bot's
intent (one in eight not understood), a quarter handed off, claimed, answered and ended, most
resolved ones rated. Then it serves the real gateway app with the console, logs in over HTTP
and prints p50/p99 of each page and API call.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer

from common.messages import (
    ConversationRef,
    CustomerMessage,
    CustomerRef,
    CustomerReply,
    encode_outbound,
)
from console.recorder import write_turn
from console.users import save_user
from console.writes import Writes
from dialogs.echo import EchoDialog
from frontdesk.app import create_app
from frontdesk.config import Settings
from gateway.handoff.state import HandoffState, with_handoff
from gateway.sessions import Session, TranscriptEntry, encode_entry, encode_session
from gateway.store.redis import conversation_key
from gateway.worker import CommittedTurn

CHANNELS = ("telegram", "sms", "whatsapp", "web")
INTENTS = ("order_status", "return_item", "greet", "opening_hours", "warranty", None)
WORDS = ("where is my order", "I want a refund", "hello", "when do you open", "is it broken")
TRIGGERS = ("keyword", "negative_sentiment", "not_understood", "flow")
RETENTION = 90 * 86400.0
_ = encode_outbound  # the outbound shape is the gateway's own


def turns_of(
    n: int, now: float, days: int, rng: random.Random
) -> tuple[list[CommittedTurn], Session, list[bytes]]:
    channel = CHANNELS[n % len(CHANNELS)]
    key = f"tel:+1415{n:07d}" if channel in ("sms", "whatsapp") else f"{channel}:{n}"
    conv = ConversationRef(channel=channel, chat_id=str(n))
    cust = CustomerRef(channel=channel, user_id=str(n), display_name=f"Customer {n}")
    start = now - rng.random() * days * 86400
    session = Session(key=key, created_at=start, updated_at=start)
    turns: list[CommittedTurn] = []
    transcript: list[bytes] = []
    at = start
    for i in range(3):
        text = rng.choice(WORDS)
        event = CustomerMessage(
            event_id=f"e{n}-{i}", conversation=conv, customer=cust, text=text, received_at=at
        )
        reply = CustomerReply(
            key=f"e{n}-{i}#0", conversation=conv, customer=cust, text=f"bot: {text}"
        )
        intent = INTENTS[rng.randrange(len(INTENTS))] if rng.random() > 0.125 else None
        debug = {"intent": intent, "confidence": round(rng.random(), 3), "flow": None}
        before = session if i else None
        turns.append(CommittedTurn(key, event, before, session, (reply,), (), debug, at))
        transcript += [
            encode_entry(
                TranscriptEntry(at=at, direction=d, channel=channel, text=t, ref=f"e{n}-{i}")
            )
            for d, t in (("in", text), ("out", reply.text))
        ]
        at += rng.uniform(5, 120)
    if rng.random() < 0.25:  # handed off
        trigger = rng.choice(TRIGGERS)
        claim = rng.expovariate(1 / 300)
        reply_after = claim + rng.expovariate(1 / 60)
        outcome = rng.choice(("resolved", "resolved", "resolved", "returned", "abandoned"))
        duration = reply_after + rng.expovariate(1 / 900)
        state = HandoffState(
            card="c",
            customer=cust,
            conversation=conv,
            trigger=trigger,
            at=at,
            state="closed",
            claimed_at=at + claim,
            agent_name="Alice",
            outcome=outcome,
        )  # type: ignore[arg-type]
        after = with_handoff(session, state)
        records = [
            {"type": "handoff", "at": at, "trigger": trigger, "queue": "default"},
            {"type": "claim", "at": at + claim, "seconds": claim, "queue": "default"},
            {"type": "first_reply", "at": at + reply_after, "seconds": reply_after},
            {"type": "closed", "at": at + duration, "outcome": outcome, "seconds": duration},
        ]
        if outcome == "resolved" and rng.random() < 0.7:
            records.append(
                {
                    "type": "csat",
                    "at": at + duration + 30,
                    "score": rng.choice((3, 4, 5, 5, 5, 2, 1)),
                }
            )
        event = CustomerMessage(
            event_id=f"e{n}-h", conversation=conv, customer=cust, text="agent", received_at=at
        )
        turns.append(CommittedTurn(key, event, session, after, (), tuple(records), None, at))
        session = after
    return turns, session.replace(updated_at=at), transcript


async def fill(client: aioredis.Redis, conversations: int, days: int) -> None:
    rng = random.Random(12)
    now = time.time()
    for first in range(0, conversations, 250):
        async with client.pipeline(transaction=False) as pipe:
            w = Writes(RETENTION)  # one per batch: merged per key, each key's TTL set once
            for n in range(first, min(conversations, first + 250)):
                turns, session, transcript = turns_of(n, now, days, rng)
                for turn in turns:
                    write_turn(w, turn)
                pipe.hset(
                    conversation_key(session.key, "session"),
                    mapping={"v": 1, "data": encode_session(session)},
                )
                pipe.rpush(conversation_key(session.key, "transcript"), *transcript)
            w.send(pipe)
            await pipe.execute()


async def timed(http: aiohttp.ClientSession, url: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        async with http.get(url) as resp:
            await resp.read()
            assert resp.status == 200, (url, resp.status)
        times.append(time.perf_counter() - t0)
    return times


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


async def measure(
    url: str, conversations: int, days: int, runs: int, *, fill_db: bool = True,
    fill_only: bool = False,
) -> None:  # fmt: skip
    client = aioredis.Redis.from_url(url)
    t0 = time.perf_counter()
    if fill_db:
        await client.flushdb()
        await fill(client, conversations, days)
    print(
        f"{conversations} conversations over {days} days (filling took "
        f"{time.perf_counter() - t0:.0f} s); {await client.dbsize()} keys, "
        f"{(await client.info('memory'))['used_memory_human']} in Redis"
    )
    await client.aclose()
    if fill_only:
        return
    with tempfile.TemporaryDirectory() as tmp:
        users = str(Path(tmp) / "users.json")
        save_user(users, "bench", "admin", "bench-password")
        settings = Settings.model_validate(
            {
                "store": {"url": url},
                "console": {"users_file": users},
                "handoff": {
                    "business_hours": {
                        "time_zone": "Europe/Berlin",
                        "weekly": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
                    }
                },
            }
        )
        server = TestServer(create_app(settings, dialog=EchoDialog(), channels={}, workers=False))
        await server.start_server()
        base = str(server.make_url("")).rstrip("/")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            form = await (await http.get(base + "/console/login")).text()
            token = re.search(r'name="csrf" value="([^"]+)"', form)
            assert token is not None
            await http.post(
                base + "/console/login",
                data={"user": "bench", "password": "bench-password", "csrf": token.group(1)},
            )
            rows = await (await http.get(base + "/console/api/conversations?preset=7d")).json()
            ref = rows["rows"][0]["ref"]
            pages = [
                ("overview page, last 7 days by day", "/console/?preset=7d", runs),
                ("overview API, last 30 days by day", "/console/api/overview?preset=30d", runs),
                (
                    "overview API, 30 days by hour",
                    "/console/api/overview?preset=30d&group=hour",
                    runs,
                ),
                (
                    "overview API, 90 days by week, business hours",
                    "/console/api/overview?preset=90d&group=week&business=1",
                    runs,
                ),
                ("figures CSV, 30 days", "/console/export/figures.csv?preset=30d", runs),
                ("conversations page, 30 days", "/console/conversations?preset=30d", runs),
                (
                    "conversations API, sms + resolved, 30 days",
                    "/console/api/conversations?preset=30d&channel=sms&outcome=resolved",
                    runs,
                ),
                (
                    "drill-down: trigger in one day",
                    f"/console/api/conversations?since_ts={time.time() - 86400 * 3:.0f}"
                    f"&until_ts={time.time() - 86400 * 2:.0f}&trigger=keyword",
                    runs,
                ),
                (
                    "text search, last 7 days (reads ≤5000 transcripts)",
                    "/console/api/conversations?preset=7d&q=refund",
                    runs,
                ),
                ("one conversation page", f"/console/conversations/{ref}", runs),
                ("live API", "/console/api/live", runs),
                (
                    "conversations CSV, last 7 days (every row)",
                    "/console/export/conversations.csv?preset=7d",
                    max(3, runs // 10),
                ),
            ]
            print(f"{'request':58} {'p50 ms':>8} {'p99 ms':>8}  runs")
            for name, path, n in pages:
                await timed(http, base + path, 1)  # warm
                t = await timed(http, base + path, n)
                print(f"{name:58} {p(t, 0.5):8.1f} {p(t, 0.99):8.1f}  {n}")
        await server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--redis", help="a scratch Redis database (flushed!)")
    parser.add_argument("--fill-only", action="store_true", help="fill --redis, measure nothing")
    parser.add_argument("--no-fill", action="store_true", help="measure --redis as it is")
    args = parser.parse_args()
    if args.redis:
        asyncio.run(measure(args.redis, args.conversations, args.days, args.runs,
                            fill_db=not args.no_fill, fill_only=args.fill_only))  # fmt: skip
        return
    from tests.support.redis_server import RedisServer

    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp))
        server.start()
        try:
            asyncio.run(measure(server.url, args.conversations, args.days, args.runs))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
