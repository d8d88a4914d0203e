"""The console's figures written in merged batches are the figures written one command, and one
turn, at a time: same keys, same values, same TTLs — in fewer commands."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from common.messages import ConversationRef, CustomerMessage, CustomerRef, CustomerReply
from console import keys as k
from console.recorder import Recorder
from console.writes import Writes
from gateway.handoff.state import HandoffState, with_handoff
from gateway.sessions import Session
from gateway.worker import CommittedTurn

RETENTION = 3600


def client(url: str, db: int) -> aioredis.Redis:
    return aioredis.Redis.from_url(url.rsplit("/", 1)[0] + f"/{db}")


async def dump(r: aioredis.Redis) -> dict[bytes, Any]:
    """Every key's type, value and TTL (HyperLogLogs by their count, TTLs to the minute)."""
    out: dict[bytes, Any] = {}
    async for key in r.scan_iter(count=1000):
        kind = (await r.type(key)).decode()
        value: Any
        if kind == "hash":
            value = await r.hgetall(key)
        elif kind == "zset":
            value = await r.zrange(key, 0, -1, withscores=True)
        elif kind == "set":
            value = await r.smembers(key)
        elif kind == "list":
            value = await r.lrange(key, 0, -1)
        elif key.startswith((k.CONVERSATIONS.encode(), k.HANDED.encode())):
            value = await r.pfcount(key)
        else:
            value = await r.get(key)
        out[key] = (kind, value, round(await r.ttl(key) / 60))
    return out


async def commands(r: aioredis.Redis) -> int:
    return int((await r.info("stats"))["total_commands_processed"])


def random_ops(rng: random.Random, n: int) -> list[Callable[[Any, bool], None]]:
    """``n`` console-style writes on a few keys, fields and members, as functions of (target,
    merged): ``target`` is a Writes when merged, else a Redis pipeline run command by command."""
    ops: list[Callable[[Any, bool], None]] = []
    for _ in range(n):
        key = f"fd:{{console}}:t:{rng.randrange(3)}"
        field, member = f"f{rng.randrange(4)}", f"m{rng.randrange(5)}"
        value, score = str(rng.randrange(100)), float(rng.randrange(1000))
        kind = rng.choice(
            ["hset", "hsetnx", "hincrby", "zadd", "zrem", "sadd", "pfadd", "rpush", "set", "ttl"]
        )
        # each field of a hash is only ever set, set-if-new or incremented (as the recorder's)
        kind = {"f0": "hset", "f1": "hsetnx", "f2": "hincrby"}.get(field, kind) if kind in (
            "hset", "hsetnx", "hincrby") else kind  # fmt: skip

        def op(t: Any, merged: bool, kind: str = kind, key: str = key, field: str = field,
               member: str = member, value: str = value, score: float = score) -> None:  # fmt: skip
            h, z, s, hl, li, st = key + ":h", key + ":z", key + ":s", key + ":hll", key + ":l", key
            if kind == "hset":
                t.hset(h, {field: value}) if merged else t.hset(h, field, value)
            elif kind == "hsetnx":
                t.hsetnx(h, field, value)
            elif kind == "hincrby":
                t.hincrby(h, field, int(value))
            elif kind == "zadd":
                t.zadd(z, member, score) if merged else t.zadd(z, {member: score})
            elif kind == "zrem":
                t.zrem(z, member)
            elif kind == "sadd":
                t.sadd(s, member)
            elif kind == "pfadd":
                t.pfadd(hl, member)
            elif kind == "rpush":
                if merged:
                    t.rpush(li, value, keep_last=3)
                else:
                    t.rpush(li, value)
                    t.ltrim(li, -3, -1)
            elif kind == "set":
                t.set(st + ":str", value, ex=RETENTION)
            elif merged:  # as the recorder: a key written, and its TTL set after the turn's writes
                t.hset(h, {"f0": value})
                t.personal(h)
            else:
                t.hset(h, "f0", value)
                t.expiring.add(h)

        ops.append(op)
    return ops


async def test_merged_writes_leave_redis_as_the_commands_one_by_one(redis_url: str) -> None:
    one, merged = client(redis_url, 1), client(redis_url, 2)
    try:
        for seed in range(20):
            await one.flushdb()
            await merged.flushdb()
            rng = random.Random(seed)
            ops = random_ops(rng, 60)
            turns = [ops[i : i + 5] for i in range(0, len(ops), 5)]
            for turn in turns:  # one turn at a time, its commands one by one, then its TTLs
                async with one.pipeline(transaction=False) as pipe:
                    pipe.expiring = set()
                    for op in turn:
                        op(pipe, False)
                    for key in pipe.expiring:
                        pipe.expire(key, RETENTION)
                    await pipe.execute()
            for first in range(0, len(turns), 3):  # three turns a batch, merged
                w = Writes(RETENTION)
                for turn in turns[first : first + 3]:
                    for op in turn:
                        op(w, True)
                async with merged.pipeline(transaction=False) as pipe:
                    w.send(pipe)
                    await pipe.execute()
            assert await dump(merged) == await dump(one), f"seed {seed}"
    finally:
        await one.aclose()
        await merged.aclose()


def conversation_turns(n: int, at: float) -> list[CommittedTurn]:
    """Three customer turns of conversation ``n``; every third is then handed off, claimed,
    closed and rated (the indexes move it from bot_only to open to resolved)."""
    conv = ConversationRef(channel="sms", chat_id=str(n))
    cust = CustomerRef(channel="sms", user_id=str(n), display_name=f"Customer {n}")
    key = f"tel:+1415555{n:04d}"
    session = Session(key=key, created_at=at, updated_at=at)
    turns = []
    for i in range(3):
        event = CustomerMessage(event_id=f"e{n}-{i}", conversation=conv, customer=cust,
                                text=f"question {i}", received_at=at)  # fmt: skip
        reply = CustomerReply(key=f"e{n}-{i}#0", conversation=conv, customer=cust, text="ok")
        debug = {"intent": "faq" if i else None, "confidence": 0.9, "flow": None}
        turns.append(CommittedTurn(key, event, session if i else None, session, (reply,), (),
                                   debug, at + i))  # fmt: skip
    if n % 3 == 0:
        state = HandoffState(card="c", customer=cust, conversation=conv, trigger="asked",
                             at=at + 3, state="closed", claimed_at=at + 4, agent_name="Al",
                             outcome="resolved")  # type: ignore[arg-type]  # fmt: skip
        records = (
            {"type": "handoff", "at": at + 3, "trigger": "asked"},
            {"type": "claim", "at": at + 4, "seconds": 1.0, "agent": "Al"},
            {"type": "closed", "at": at + 9, "outcome": "resolved", "seconds": 6.0},
            {"type": "csat", "at": at + 10, "score": 5},
        )
        event = CustomerMessage(event_id=f"e{n}-h", conversation=conv, customer=cust,
                                text="a person please", received_at=at + 3)  # fmt: skip
        turns.append(CommittedTurn(key, event, session, with_handoff(session, state), (),
                                   records, None, at + 3))  # fmt: skip
    return turns


async def test_turns_recorded_together_give_the_figures_of_turns_one_by_one(
    redis_url: str,
) -> None:
    """40 conversations' turns committing at once (each conversation's in order, as its lane
    runs them) are written together: the same figures as one turn at a time, in a fraction of
    the commands."""
    import time

    at = time.time() - 60
    by_conversation = [conversation_turns(n, at) for n in range(40)]
    one, together = client(redis_url, 1), client(redis_url, 2)
    try:
        await one.flushdb()
        await together.flushdb()
        alone = Recorder(one, retention=RETENTION)
        await alone.observe(by_conversation[0][0])  # the hourly trim, out of the count
        await one.flushdb()
        before = await commands(one)
        for turns in by_conversation:
            for turn in turns:
                await alone.observe(turn)
        sent_alone = await commands(one) - before

        grouped = Recorder(together, retention=RETENTION)
        await grouped.observe(by_conversation[0][0])
        await together.flushdb()
        before = await commands(together)

        async def lane(turns: list[CommittedTurn]) -> None:
            for turn in turns:  # a conversation's next turn waits for its last to be written
                await grouped.observe(turn)

        await asyncio.gather(*(lane(turns) for turns in by_conversation))
        sent_together = await commands(together) - before
        figures = await dump(together)
        assert figures == await dump(one)
        assert any(key.startswith(k.COUNTS.encode()) for key in figures)
        bot_only = await together.zrange(k.index_key("outcome", "bot_only"), 0, -1)
        resolved = await together.zrange(k.index_key("outcome", "resolved"), 0, -1)
        assert len(bot_only) == 26 and len(resolved) == 14  # handed off: left bot_only
        assert not set(bot_only) & set(resolved)
        assert sent_together < sent_alone / 2, (sent_together, sent_alone)
    finally:
        await one.aclose()
        await together.aclose()
