"""The conversation list (filters over the indexes, text search over the newest matches) and
one conversation's detail (transcript, the bot's intent and confidence per turn, the handoff,
agent notes and delivery statuses), masked for viewers."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from console import keys as k
from console.masking import shown
from console.recorder import ref_of
from gateway.handoff.state import handoff_of
from gateway.sessions import decode_entry, decode_session
from gateway.store import Store
from gateway.store.redis import conversation_key

SEARCH_BUDGET = 5000  # conversations whose transcript a text search reads at most
MAX_EXPORT = 100_000


@dataclass(frozen=True, slots=True)
class Query:
    since: float
    until: float
    filters: dict[str, str] = field(default_factory=dict)  # dimension -> value
    text: str = ""
    offset: int = 0
    limit: int = 50


@dataclass(frozen=True, slots=True)
class Found:
    rows: list[dict[str, Any]]
    total: int
    exact: bool  # False: a text search stopped after SEARCH_BUDGET conversations


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def find(redis: Any, q: Query, *, unmasked: bool) -> Found:
    if not q.text and len(q.filters) <= 1 and q.until > time.time():
        return await _newest(redis, q, unmasked)
    tmp = f"{k.TEMP}{uuid.uuid4().hex}"
    parts = [f"{tmp}:{n}" for n in range(len(q.filters))]
    low, high = q.since, f"({q.until}"
    try:
        async with redis.pipeline(transaction=False) as pipe:
            if q.filters:
                for part, (dim, value) in zip(parts, sorted(q.filters.items()), strict=True):
                    pipe.zrangestore(part, k.index_key(dim, value), low, high, byscore=True)
                pipe.zinterstore(tmp, parts, aggregate="MAX")
            else:
                days = [k.ACTIVE + d for d in k.days_between(q.since, q.until - 1)]
                pipe.zunionstore(tmp, days, aggregate="MAX")
                pipe.zremrangebyscore(tmp, "-inf", f"({q.since}")
                pipe.zremrangebyscore(tmp, q.until, "+inf")
            pipe.expire(tmp, 60)
            pipe.zcard(tmp)
            replies = await pipe.execute()
        total = int(replies[-1])
        if not q.text:
            keys = [_s(x) for x in await redis.zrevrange(tmp, q.offset, q.offset + q.limit - 1)]
            return Found(await _rows(redis, keys, unmasked), total, True)
        return await _search(redis, tmp, q, total, unmasked)
    finally:
        await redis.delete(tmp, *parts)


async def _newest(redis: Any, q: Query, unmasked: bool) -> Found:
    """A period up to now with at most one filter: one sorted set read directly (the
    conversations by their last message, or the filter's index), newest first."""
    if q.filters:
        ((dim, value),) = q.filters.items()
        name = k.index_key(dim, value)
    else:
        name = k.LAST
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcount(name, q.since, "+inf")
        pipe.zrevrangebyscore(name, "+inf", q.since, start=q.offset, num=q.limit)
        total, keys = await pipe.execute()
    return Found(await _rows(redis, [_s(x) for x in keys], unmasked), int(total), True)


async def _search(redis: Any, tmp: str, q: Query, total: int, unmasked: bool) -> Found:
    needle = q.text.casefold()
    matched: list[str] = []
    scanned = 0
    while scanned < min(total, SEARCH_BUDGET) and len(matched) < q.offset + q.limit:
        chunk = [_s(x) for x in await redis.zrevrange(tmp, scanned, scanned + 199)]
        if not chunk:
            break
        async with redis.pipeline(transaction=False) as pipe:
            for key in chunk:
                pipe.lrange(conversation_key(key, "transcript"), 0, -1)
            transcripts = await pipe.execute()
        for key, entries in zip(chunk, transcripts, strict=True):
            said = " ".join(decode_entry(e).text for e in entries)
            said = shown(said, unmasked).casefold()  # a viewer searches what they may see
            if needle in said:
                matched.append(key)
        scanned += len(chunk)
    exact = scanned >= total
    rows = await _rows(redis, matched[q.offset : q.offset + q.limit], unmasked)
    return Found(rows, len(matched) if exact else max(len(matched), q.offset + len(rows)), exact)


async def _rows(redis: Any, keys: list[str], unmasked: bool) -> list[dict[str, Any]]:
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hgetall(k.summary_key(key))
        summaries = await pipe.execute()
    return [
        row(key, {_s(a): _s(b) for a, b in raw.items()}, unmasked)
        for key, raw in zip(keys, summaries, strict=True)
    ]


def row(key: str, data: dict[str, str], unmasked: bool) -> dict[str, Any]:
    """One conversation as a list row (and a CSV line)."""
    return {
        "ref": ref_of(key),
        "conversation": shown(key, unmasked),
        "name": shown(data.get("name", ""), unmasked),
        "channels": ",".join(sorted(f[3:] for f in data if f.startswith("ch:"))),
        "first_at": float(data.get("first_at", 0)),
        "last_at": float(data.get("last_at", 0)),
        "messages_in": int(data.get("in", 0)),
        "messages_out": int(data.get("out", 0)),
        "last_intent": data.get("intent", ""),
        "not_understood": int(data.get("not_understood", 0)),
        "handoffs": int(data.get("handoffs", 0)),
        "trigger": data.get("trigger", ""),
        "outcome": data.get("outcome", "bot_only"),
        "agent": data.get("agent", ""),
        "rating": data.get("rating", ""),
    }


async def key_of(redis: Any, ref: str) -> str | None:
    value = await redis.get(k.REFS + ref)
    return None if value is None else _s(value)


async def detail(
    redis: Any, store: Store, key: str, *, unmasked: bool, note_prefix: str = "//"
) -> dict[str, Any]:
    """The conversation: summary, transcript with the bot's understanding per turn, handoff."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(k.summary_key(key))
        pipe.lrange(k.notes_key(key), 0, -1)
        summary_raw, notes_raw = await pipe.execute()
    notes = {n["ref"]: n for n in (json.loads(x) for x in notes_raw)}
    entries = []
    for raw in await store.transcript(key):
        e = decode_entry(raw)
        note = notes.get(e.ref or "") if e.direction == "in" else None
        kind: str = e.direction
        if e.direction == "agent" and e.text.startswith(("[note]", f"[reply] {note_prefix}")):
            kind = "note"
        entries.append(
            {
                "at": e.at,
                "direction": kind,
                "channel": e.channel,
                "text": shown(e.text, unmasked),
                "status": e.status,
                "intent": note.get("intent") if note else None,
                "confidence": note.get("confidence") if note else None,
                "not_understood": bool(note and note.get("not_understood")),
                "knowledge": ", ".join(
                    f"{x['kind']} {x.get('id') or ''}".strip() for x in note.get("knowledge", [])
                )
                if note
                else "",
            }
        )
    stored = await store.load_session(key)
    handoff: dict[str, Any] | None = None
    if stored is not None and (state := handoff_of(decode_session(stored.data))) is not None:
        handoff = {
            "state": state.state,
            "trigger": state.trigger,
            "reason": shown(state.reason, unmasked),
            "queue": state.queue_name,
            "at": state.at,
            "agent": state.agent_name,
            "claimed_at": state.claimed_at,
            "first_reply_at": state.first_reply_at,
            "closed_at": state.closed_at,
            "outcome": state.outcome,
            "csat": state.csat,
            "summary": shown(state.summary, unmasked),
        }
    data = {_s(a): _s(b) for a, b in summary_raw.items()}
    return {"summary": row(key, data, unmasked), "entries": entries, "handoff": handoff}
