"""``frontdesk console rebuild``: the console's figures rebuilt from what the store still holds
— each conversation's transcript and last handoff, the handoff statistics log, the knowledge
base's daily counts — for data from before the console recorded it. What was never stored is
not rebuilt: the bot's intent and confidence per turn (and so the "not understood" rate), the
ratings' channel (shown as "unknown")."""

from __future__ import annotations

import time
from typing import Any

from console import keys as k
from console.recorder import ref_of
from console.writes import Writes
from gateway.handoff.state import handoff_of
from gateway.sessions import decode_entry, decode_session
from gateway.store.handoff import LOG_DELAY
from gateway.store.redis import conversation_key
from gateway.store.redis_handoff import RedisHandoffStore

DERIVED = ("h:", "conv:", "handed:", "v:", "active:", "ix:", "ix-names:", "ref:", "last")


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def clear(redis: Any) -> int:
    """Delete the derived figures (not the logins, the audit log or the users)."""
    gone = 0
    for part in DERIVED:
        batch = [key async for key in redis.scan_iter(match=f"{k.PREFIX}{part}*", count=1000)]
        for i in range(0, len(batch), 500):
            gone += int(await redis.delete(*batch[i : i + 500]))
    return gone


async def rebuild(redis: Any, *, retention: float) -> dict[str, int]:
    await clear(redis)
    conversations = 0
    async for name in redis.scan_iter(match="fd:{*}:session", count=1000):
        raw = await redis.hget(name, "data")
        if raw is None:
            continue
        session = decode_session(raw if isinstance(raw, bytes) else raw.encode())
        entries = [
            decode_entry(e)
            for e in await redis.lrange(conversation_key(session.key, "transcript"), 0, -1)
        ]
        w = Writes(retention)
        _conversation(w, session, entries)
        async with redis.pipeline(transaction=False) as pipe:
            w.send(pipe)
            await pipe.execute()
        conversations += 1
    records = await RedisHandoffStore(redis).records(LOG_DELAY + 1, time.time() + LOG_DELAY)
    w = Writes(retention)
    for r in records:
        _record(w, r)
    async for name in redis.scan_iter(match="fd:{review}:kb:*", count=1000):
        day = _s(name).rsplit(":", 1)[1]
        for kind, n in (await redis.hgetall(name)).items():
            w.count(day + "00", f"kb:{_s(kind)}", int(n))
    async with redis.pipeline(transaction=False) as pipe:
        w.send(pipe)
        await pipe.execute()
    return {"conversations": conversations, "handoff_records": len(records)}


def _conversation(w: Writes, session: Any, entries: list[Any]) -> None:
    key = session.key
    summary = k.summary_key(key)
    w.personal(summary)
    w.set(k.REFS + ref_of(key), key, ex=w.retention)
    w.hset(summary, {"key": key, "first_at": session.created_at, "last_at": session.updated_at})
    for name in session.names.values():
        w.hset(summary, {"name": name})
    said = [e for e in entries if e.direction == "in"]
    for e in said:
        hour, day = k.hour_of(e.at), k.day_of(e.at)
        w.count(hour, f"in:{e.channel}")
        w.pfadd(k.CONVERSATIONS + hour, key)
        w.zadd(k.ACTIVE + day, key, e.at)
        w.zadd(k.LAST, key, e.at)
        w.personal(k.LAST)
        w.keep(k.CONVERSATIONS + hour)
        w.personal(k.ACTIVE + day)
        w.index("channel", e.channel, key, e.at)
        w.hset(summary, {f"ch:{e.channel}": 1})
    for e in entries:
        if e.direction == "out":
            w.count(k.hour_of(e.at), f"out:{e.channel}")
    w.hset(summary, {"in": len(said), "out": sum(e.direction == "out" for e in entries)})
    state = handoff_of(session)
    if state is None:
        if said:
            w.index("outcome", "bot_only", key, said[-1].at)
        return
    hour = k.hour_of(state.at)
    w.pfadd(k.HANDED + hour, key)
    w.keep(k.HANDED + hour)
    w.index("trigger", state.trigger, key, state.at)
    outcome = state.outcome or "open"
    w.index("outcome", outcome, key, state.closed_at or state.at)
    fields: dict[str, Any] = {
        "trigger": state.trigger,
        "handoff_at": state.at,
        "outcome": outcome,
        "handoffs": 1,
    }
    if state.agent_name:
        fields["agent"] = state.agent_name
    if state.csat is not None:
        fields["rating"] = state.csat
        w.index("rating", str(state.csat), key, state.closed_at or state.at)
    w.hset(summary, fields)


def _record(w: Writes, r: dict[str, Any]) -> None:
    hour = k.hour_of(float(r["at"]))
    kind = r.get("type")
    if kind == "handoff":
        w.count(hour, f"handoff:{r.get('trigger') or 'unknown'}")
        if r.get("after_hours"):
            w.count(hour, "after_hours")
    elif kind in ("claim", "first_reply", "closed"):
        name = f"{k.VALUES}{'duration' if kind == 'closed' else kind}:{hour}"
        w.rpush(name, repr(float(r["seconds"])))
        w.keep(name)
        if kind == "closed":
            w.count(hour, f"outcome:{r.get('outcome')}")
    elif kind == "csat":
        w.count(hour, f"csat:agent:{int(r['score'])}")
        w.count(hour, f"csat_ch:unknown:{int(r['score'])}")
