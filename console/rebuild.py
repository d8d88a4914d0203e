"""``frontdesk console rebuild``: the console's figures rebuilt from what the store still holds
— each conversation's transcript and last handoff, the handoff statistics log, the knowledge
base's daily counts — for data from before the console recorded it. What was never stored is
not rebuilt: the bot's intent and confidence per turn (and so the "not understood" rate), the
ratings' channel (shown as "unknown")."""

from __future__ import annotations

import time
from typing import Any

from console import keys as k
from console.recorder import Pipe, ref_of
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
        async with redis.pipeline(transaction=False) as pipe:
            p = Pipe(pipe, retention)
            _conversation(p, session, entries)
            p.finish()
            await pipe.execute()
        conversations += 1
    records = await RedisHandoffStore(redis).records(LOG_DELAY + 1, time.time() + LOG_DELAY)
    async with redis.pipeline(transaction=False) as pipe:
        p = Pipe(pipe, retention)
        for r in records:
            _record(p, r)
        async for name in redis.scan_iter(match="fd:{review}:kb:*", count=1000):
            day = _s(name).rsplit(":", 1)[1]
            for kind, n in (await redis.hgetall(name)).items():
                p.count(day + "00", f"kb:{_s(kind)}", int(n))
        p.finish()
        await pipe.execute()
    return {"conversations": conversations, "handoff_records": len(records)}


def _conversation(p: Pipe, session: Any, entries: list[Any]) -> None:
    pipe, key = p.pipe, session.key
    summary = k.summary_key(key)
    p.personal.add(summary)
    pipe.set(k.REFS + ref_of(key), key, ex=p.retention)
    pipe.hset(
        summary, mapping={"key": key, "first_at": session.created_at, "last_at": session.updated_at}
    )
    for name in session.names.values():
        pipe.hset(summary, "name", name)
    said = [e for e in entries if e.direction == "in"]
    for e in said:
        hour, day = k.hour_of(e.at), k.day_of(e.at)
        p.count(hour, f"in:{e.channel}")
        pipe.pfadd(k.CONVERSATIONS + hour, key)
        pipe.zadd(k.ACTIVE + day, {key: e.at})
        pipe.zadd(k.LAST, {key: e.at})
        p.personal.add(k.LAST)
        p.keep.add(k.CONVERSATIONS + hour)
        p.personal.add(k.ACTIVE + day)
        p.index("channel", e.channel, key, e.at)
        pipe.hset(summary, f"ch:{e.channel}", 1)
    for e in entries:
        if e.direction == "out":
            p.count(k.hour_of(e.at), f"out:{e.channel}")
    pipe.hset(summary, mapping={"in": len(said), "out": sum(e.direction == "out" for e in entries)})
    state = handoff_of(session)
    if state is None:
        if said:
            p.index("outcome", "bot_only", key, said[-1].at)
        return
    hour = k.hour_of(state.at)
    pipe.pfadd(k.HANDED + hour, key)
    p.keep.add(k.HANDED + hour)
    p.index("trigger", state.trigger, key, state.at)
    outcome = state.outcome or "open"
    p.index("outcome", outcome, key, state.closed_at or state.at)
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
        p.index("rating", str(state.csat), key, state.closed_at or state.at)
    pipe.hset(summary, mapping=fields)


def _record(p: Pipe, r: dict[str, Any]) -> None:
    hour = k.hour_of(float(r["at"]))
    kind = r.get("type")
    if kind == "handoff":
        p.count(hour, f"handoff:{r.get('trigger') or 'unknown'}")
        if r.get("after_hours"):
            p.count(hour, "after_hours")
    elif kind in ("claim", "first_reply", "closed"):
        name = f"{k.VALUES}{'duration' if kind == 'closed' else kind}:{hour}"
        p.pipe.rpush(name, repr(float(r["seconds"])))
        p.keep.add(name)
        if kind == "closed":
            p.count(hour, f"outcome:{r.get('outcome')}")
    elif kind == "csat":
        p.count(hour, f"csat:agent:{int(r['score'])}")
        p.count(hour, f"csat_ch:unknown:{int(r['score'])}")
