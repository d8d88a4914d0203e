"""Keeps the console's figures as events happen: after every committed turn (the worker's
observer hook) it adds the turn to the hour's counters, HyperLogLogs and duration lists, to
the filter indexes, and to the conversation's summary and per-turn notes — one pipelined round
trip for the turns that commit together, never a scan. :func:`write_turn` is shared with the
rebuild and the benchmark."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from common.batching import GroupCommit
from common.logging import get_logger
from common.messages import CustomerMessage, CustomerReply
from console import keys as k
from console.writes import Writes
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


def write_turn(w: Writes, turn: CommittedTurn) -> None:
    """Add one committed turn to the figures (to ``w``: the caller sends and executes)."""
    key, at = turn.key, turn.at
    hour, day = k.hour_of(at), k.day_of(at)
    summary = k.summary_key(key)
    w.personal(summary)
    event = turn.event
    channel = event.conversation.channel
    w.hsetnx(summary, "first_at", at)
    w.hset(summary, {"key": key, "last_at": at, f"ch:{channel}": 1})
    w.set(k.REFS + ref_of(key), key, ex=w.retention)
    if isinstance(event, CustomerMessage) and not event.edited:
        w.count(hour, f"in:{channel}")
        w.hincrby(summary, "in")
        if event.customer.display_name:
            w.hset(summary, {"name": event.customer.display_name})
        w.keep(k.CONVERSATIONS + hour)
        w.personal(k.ACTIVE + day)
        w.pfadd(k.CONVERSATIONS + hour, key)
        w.zadd(k.ACTIVE + day, key, at)
        w.zadd(k.LAST, key, at)
        w.personal(k.LAST)
        w.index("channel", channel, key, at)
        if turn.after.handoff is None:
            w.index("outcome", "bot_only", key, at)
    out = [m for m in turn.outbound if isinstance(m, CustomerReply)]
    for message in out:
        w.count(hour, f"out:{message.conversation.channel}")
    if out:
        w.hincrby(summary, "out", len(out))
    if turn.understood is not None:
        note = understood_note(turn.understood)
        w.count(hour, "turns")
        if note["not_understood"]:
            w.count(hour, "not_understood")
            w.hincrby(summary, "not_understood")
        for kb in note["knowledge"]:
            w.count(hour, f"kb:{kb['kind']}")
        if note["intent"]:
            w.index("intent", str(note["intent"]), key, at)
            w.hset(summary, {"intent": str(note["intent"])})
        notes = k.notes_key(key)
        w.rpush(notes, json.dumps({"ref": event.event_id, "at": at, **note}), keep_last=MAX_NOTES)
        w.personal(notes)
    for record in turn.records:
        _record(w, turn, record, summary)


def _record(w: Writes, turn: CommittedTurn, record: Mapping[str, Any], summary: str) -> None:
    key = turn.key
    at = float(record.get("at", turn.at))
    hour = k.hour_of(at)
    kind = record["type"]
    if kind == "handoff":
        trigger = str(record.get("trigger") or "unknown")
        w.count(hour, f"handoff:{trigger}")
        if record.get("after_hours"):
            w.count(hour, "after_hours")
        w.pfadd(k.HANDED + hour, key)
        w.keep(k.HANDED + hour)
        w.index("trigger", trigger, key, at)
        w.index("outcome", "open", key, at)
        w.zrem(k.index_key("outcome", "bot_only"), key)
        w.hset(summary, {"trigger": trigger, "handoff_at": at, "outcome": "open"})
        w.hincrby(summary, "handoffs")
    elif kind in ("claim", "first_reply", "closed"):
        figure = "duration" if kind == "closed" else kind
        name = f"{k.VALUES}{figure}:{hour}"
        w.rpush(name, repr(float(record["seconds"])))
        w.keep(name)
        if kind == "claim" and record.get("agent"):
            w.hset(summary, {"agent": str(record["agent"])})
        if kind == "closed":
            outcome = str(record.get("outcome"))
            w.count(hour, f"outcome:{outcome}")
            w.index("outcome", outcome, key, at)
            w.zrem(k.index_key("outcome", "open"), key)
            w.hset(summary, {"outcome": outcome})
    elif kind == "csat":
        score = int(record["score"])
        state = handoff_of(turn.after)
        who = "agent" if state is not None and state.claimed_at is not None else "bot"
        channel = turn.event.conversation.channel
        w.count(hour, f"csat:{who}:{score}")
        w.count(hour, f"csat_ch:{channel}:{score}")
        w.index("rating", str(score), key, at)
        w.hset(summary, {"rating": score})


async def trim(redis: Any, now: float, retention: float) -> int:
    """Drop index entries older than the retention (the conversations are gone by then)."""
    removed = int(await redis.zremrangebyscore(k.LAST, "-inf", f"({now - retention}"))
    for dimension in k.DIMENSIONS:
        for value in await redis.smembers(k.INDEX_NAMES + dimension):
            name = k.index_key(dimension, value.decode())
            removed += int(await redis.zremrangebyscore(name, "-inf", f"({now - retention}"))
    return removed


class Recorder:
    """The worker's observer. Turns that commit while a write is on its way wait and go
    together in the next one (common/batching.GroupCommit), merged per key (:class:`Writes`):
    under load one pipeline carries many turns and each counter, index and TTL once; alone, a
    turn is written at once. ``observe`` returns when its turn is written. Once an hour the
    index entries past the retention are dropped."""

    def __init__(self, redis: Any, *, retention: float) -> None:
        self.redis = redis
        self.retention = retention
        self.trimmed = ""
        self._batches: GroupCommit[CommittedTurn, None] = GroupCommit(self._write)

    async def observe(self, turn: CommittedTurn) -> None:
        await self._batches.submit(turn)

    async def close(self) -> None:
        """Wait for the write on its way (at shutdown, before the store closes)."""
        await self._batches.idle()

    async def _write(self, turns: Sequence[CommittedTurn]) -> list[None]:
        try:
            if self.trimmed != (hour := k.hour_of(turns[-1].at)):
                self.trimmed = hour
                await trim(self.redis, turns[-1].at, self.retention)
            w = Writes(self.retention)
            for turn in turns:
                write_turn(w, turn)
            async with self.redis.pipeline(transaction=False) as pipe:
                w.send(pipe)
                await pipe.execute()
        except Exception:  # the figures must never break a turn
            get_logger(conversation_id=turns[0].key, turns=len(turns)).exception(
                "console_record_failed"
            )
        return [None] * len(turns)
