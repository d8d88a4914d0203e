"""Keeps the console's figures as events happen: after every committed turn (the worker's
observer hook) it adds the turn to the hour's counters, HyperLogLogs and duration lists, to
the filter indexes, and to the conversation's summary and per-turn notes — one pipelined round
trip per turn, never a scan. :func:`write_turn` is shared with the rebuild and the benchmark."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from common.logging import get_logger
from common.messages import CustomerMessage, CustomerReply
from console import keys as k
from gateway.handoff.state import handoff_of
from gateway.worker import CommittedTurn

MAX_NOTES = 200  # per-turn notes kept per conversation (as the transcript's default limit)


def understood_note(debug: Mapping[str, Any]) -> dict[str, Any]:
    """What the console keeps of a bot turn's debug: intent, confidence, flow, knowledge."""
    notes = [
        {"kind": n.get("kind"), "id": n.get("id"), "score": n.get("score")}
        for n in debug.get("knowledge") or ()
    ]
    return {
        "intent": debug.get("intent"),
        "confidence": debug.get("confidence"),
        "flow": debug.get("flow"),
        "knowledge": notes,
        "not_understood": not_understood(debug),
    }


def not_understood(debug: Mapping[str, Any]) -> bool:
    """No intent recognised, no flow took the message and no knowledge answer was given."""
    answered = any(n.get("kind") == "answer" for n in debug.get("knowledge") or ())
    return debug.get("intent") is None and debug.get("flow") is None and not answered


def ref_of(key: str) -> str:
    """The conversation's id in the console's URLs (its key can hold a phone number)."""
    import hashlib

    return hashlib.sha1(key.encode()).hexdigest()[:20]


class Pipe:
    """Commands for one turn, added to a Redis pipeline; keys touched get their TTL once."""

    def __init__(self, pipe: Any, retention: float) -> None:
        self.pipe = pipe
        self.keep: set[str] = set()
        self.personal: set[str] = set()
        self.retention = int(retention)

    def count(self, hour: str, field: str, n: int = 1) -> None:
        self.pipe.hincrby(k.COUNTS + hour, field, n)
        self.keep.add(k.COUNTS + hour)

    def index(self, dimension: str, value: str, key: str, at: float) -> None:
        self.pipe.zadd(k.index_key(dimension, value), {key: at})
        self.personal.add(k.index_key(dimension, value))
        self.pipe.sadd(k.INDEX_NAMES + dimension, value)

    def finish(self) -> None:
        for name in self.keep:
            self.pipe.expire(name, k.KEEP)
        for name in self.personal:
            self.pipe.expire(name, self.retention)


def write_turn(p: Pipe, turn: CommittedTurn) -> None:
    """Add one committed turn to the figures (commands only; the caller finishes the Pipe,
    setting the TTLs once, and executes)."""
    pipe, key, at = p.pipe, turn.key, turn.at
    hour, day = k.hour_of(at), k.day_of(at)
    summary = k.summary_key(key)
    p.personal.add(summary)
    event = turn.event
    channel = event.conversation.channel
    pipe.hsetnx(summary, "first_at", at)
    pipe.hset(summary, mapping={"key": key, "last_at": at, f"ch:{channel}": 1})
    pipe.set(k.REFS + ref_of(key), key, ex=p.retention)
    if isinstance(event, CustomerMessage) and not event.edited:
        p.count(hour, f"in:{channel}")
        pipe.hincrby(summary, "in", 1)
        if event.customer.display_name:
            pipe.hset(summary, "name", event.customer.display_name)
        p.keep.add(k.CONVERSATIONS + hour)
        p.personal.add(k.ACTIVE + day)
        pipe.pfadd(k.CONVERSATIONS + hour, key)
        pipe.zadd(k.ACTIVE + day, {key: at})
        pipe.zadd(k.LAST, {key: at})
        p.personal.add(k.LAST)
        p.index("channel", channel, key, at)
        if turn.after.handoff is None:
            p.index("outcome", "bot_only", key, at)
    out = [m for m in turn.outbound if isinstance(m, CustomerReply)]
    for message in out:
        p.count(hour, f"out:{message.conversation.channel}")
    if out:
        pipe.hincrby(summary, "out", len(out))
    if turn.understood is not None:
        note = understood_note(turn.understood)
        p.count(hour, "turns")
        if note["not_understood"]:
            p.count(hour, "not_understood")
            pipe.hincrby(summary, "not_understood", 1)
        for kb in note["knowledge"]:
            p.count(hour, f"kb:{kb['kind']}")
        if note["intent"]:
            p.index("intent", str(note["intent"]), key, at)
            pipe.hset(summary, "intent", str(note["intent"]))
        notes = k.notes_key(key)
        pipe.rpush(notes, json.dumps({"ref": event.event_id, "at": at, **note}))
        pipe.ltrim(notes, -MAX_NOTES, -1)
        p.personal.add(notes)
    for record in turn.records:
        _record(p, turn, record, summary)


def _record(p: Pipe, turn: CommittedTurn, record: Mapping[str, Any], summary: str) -> None:
    pipe, key = p.pipe, turn.key
    at = float(record.get("at", turn.at))
    hour = k.hour_of(at)
    kind = record["type"]
    if kind == "handoff":
        trigger = str(record.get("trigger") or "unknown")
        p.count(hour, f"handoff:{trigger}")
        if record.get("after_hours"):
            p.count(hour, "after_hours")
        pipe.pfadd(k.HANDED + hour, key)
        p.keep.add(k.HANDED + hour)
        p.index("trigger", trigger, key, at)
        p.index("outcome", "open", key, at)
        pipe.zrem(k.index_key("outcome", "bot_only"), key)
        pipe.hset(summary, mapping={"trigger": trigger, "handoff_at": at, "outcome": "open"})
        pipe.hincrby(summary, "handoffs", 1)
    elif kind in ("claim", "first_reply", "closed"):
        figure = "duration" if kind == "closed" else kind
        name = f"{k.VALUES}{figure}:{hour}"
        pipe.rpush(name, repr(float(record["seconds"])))
        p.keep.add(name)
        if kind == "claim" and record.get("agent"):
            pipe.hset(summary, "agent", str(record["agent"]))
        if kind == "closed":
            outcome = str(record.get("outcome"))
            p.count(hour, f"outcome:{outcome}")
            p.index("outcome", outcome, key, at)
            pipe.zrem(k.index_key("outcome", "open"), key)
            pipe.hset(summary, "outcome", outcome)
    elif kind == "csat":
        score = int(record["score"])
        state = handoff_of(turn.after)
        who = "agent" if state is not None and state.claimed_at is not None else "bot"
        channel = turn.event.conversation.channel
        p.count(hour, f"csat:{who}:{score}")
        p.count(hour, f"csat_ch:{channel}:{score}")
        p.index("rating", str(score), key, at)
        pipe.hset(summary, "rating", score)


async def trim(redis: Any, now: float, retention: float) -> int:
    """Drop index entries older than the retention (the conversations are gone by then)."""
    removed = int(await redis.zremrangebyscore(k.LAST, "-inf", f"({now - retention}"))
    for dimension in k.DIMENSIONS:
        for value in await redis.smembers(k.INDEX_NAMES + dimension):
            name = k.index_key(dimension, value.decode())
            removed += int(await redis.zremrangebyscore(name, "-inf", f"({now - retention}"))
    return removed


class Recorder:
    """The worker's observer: one pipeline per committed turn (and, once an hour, the
    index entries past the retention are dropped)."""

    def __init__(self, redis: Any, *, retention: float) -> None:
        self.redis = redis
        self.retention = retention
        self.trimmed = ""

    async def observe(self, turn: CommittedTurn) -> None:
        try:
            if self.trimmed != (hour := k.hour_of(turn.at)):
                self.trimmed = hour
                await trim(self.redis, turn.at, self.retention)
            async with self.redis.pipeline(transaction=False) as pipe:
                p = Pipe(pipe, self.retention)
                write_turn(p, turn)
                p.finish()
                await pipe.execute()
        except Exception:  # the figures must never break a turn
            get_logger(conversation_id=turn.key).exception("console_record_failed")
