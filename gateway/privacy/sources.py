"""The built-in customer data sources (see gateway/privacy/core.py): one per Redis key family.

- ``conversation``: the session, transcript, pending inbound/outbound items and the dedup and
  sent markers of each of the customer's keys (``fd:{<key>}:…``, found by a SCAN of the
  conversation's hash tag: these keys have no index);
- ``handoff``: handoff cards (``fd:{<key>}:card:…``) and the Slack thread maps they point to
  (``fd:handoff:thread:<ts>``), open handoff timers (``fd:handoff:timers``/``timer-customers``);
- ``dead_letters``: entries of the dead-letter hashes whose conversation is the customer's;
- ``web_log``: the website chat's conversation log (``web:{<conversation>}:…``).

The handoff statistics (``fd:handoff:events``, ``fd:{stats:N}:*``, ``fd:handoff:pickups:*``) hold
no customer identifier and are not a customer's data.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.privacy.core import (
    Context,
    Customer,
    _delete,
    _json,
    _s,
    glob_escape,
    scan,
)
from gateway.store.redis import DLQ, conversation_key

THREADS = "fd:handoff:thread:"
TIMERS = "fd:handoff:timers"
TIMER_CUSTOMERS = "fd:handoff:timer-customers"
DEAD_LETTER_HASHES = [DLQ]  # another dead-letter hash (e.g. inbound) is appended here


def _suffix(key: str, full: str) -> str:
    return full[len(conversation_key(key, "")) :]


def _own(suffix: str) -> bool:
    """Keys of the conversation source: not the locks (held by the erasure), not the cards."""
    return not suffix.endswith(":lock") and not suffix.startswith("card:")


class ConversationSource:
    name = "conversation"

    async def export(self, ctx: Context, customer: Customer) -> Any:
        out: dict[str, Any] = {}
        for key in customer.keys:
            found = [k for k in await ctx.conversation_keys(customer, key) if _own(_suffix(key, k))]
            if not found:
                continue
            entry: dict[str, Any] = {"markers": []}
            for full in found:
                suffix = _suffix(key, full)
                if suffix == "session":
                    fields = await ctx.redis.hgetall(full)
                    entry["session"] = _json(fields.get(b"data", b"null"))
                elif suffix in ("transcript", "turns", "sends"):
                    name = {"turns": "pending_inbound", "sends": "pending_outbound"}.get(
                        suffix, suffix
                    )
                    entry[name] = [_json(v) for v in await ctx.redis.lrange(full, 0, -1)]
                elif suffix.startswith("relay:"):
                    entry["markers"].append({suffix: _s(await ctx.redis.get(full) or b"")})
                else:
                    entry["markers"].append(suffix)
            out[key] = entry
        return out

    async def erase(self, ctx: Context, customer: Customer) -> int:
        removed = 0
        for key in customer.keys:
            found = [k for k in await ctx.conversation_keys(customer, key) if _own(_suffix(key, k))]
            removed += await _delete(ctx.redis, found)
        return removed


class HandoffSource:
    name = "handoff"

    async def _cards(self, ctx: Context, customer: Customer, key: str) -> list[tuple[str, str]]:
        prefix = conversation_key(key, "card:")
        cards = [k for k in await ctx.conversation_keys(customer, key) if k.startswith(prefix)]
        values = await ctx.redis.mget(cards) if cards else []
        return [(c, _s(v)) for c, v in zip(cards, values, strict=True) if v is not None]

    async def export(self, ctx: Context, customer: Customer) -> Any:
        out: dict[str, Any] = {}
        for key in customer.keys:
            cards = await self._cards(ctx, customer, key)
            threads = []
            for _, ts in cards:
                mapped = await ctx.redis.get(THREADS + ts)
                if mapped is not None:
                    threads.append({"slack_ts": ts, **json.loads(mapped)})
            due = await ctx.redis.zscore(TIMERS, key)
            who = await ctx.redis.hget(TIMER_CUSTOMERS, key)
            if not cards and due is None:
                continue
            out[key] = {
                "cards": {_suffix(key, c): ts for c, ts in cards},
                "threads": threads,
                "open_timer": None if due is None else {"due": due, "customer": _json(who or "")},
            }
        return out

    async def erase(self, ctx: Context, customer: Customer) -> int:
        removed = 0
        for key in customer.keys:
            cards = await self._cards(ctx, customer, key)
            removed += await _delete(ctx.redis, [THREADS + ts for _, ts in cards])
            removed += await _delete(ctx.redis, [c for c, _ in cards])
            removed += int(await ctx.redis.zrem(TIMERS, key))
            removed += int(await ctx.redis.hdel(TIMER_CUSTOMERS, key))
        return removed


class DeadLetterSource:
    name = "dead_letters"

    async def _mine(self, ctx: Context, customer: Customer) -> list[tuple[str, str, Any]]:
        found = []
        for table in DEAD_LETTER_HASHES:
            for letter_id, raw in (await ctx.redis.hgetall(table)).items():
                letter = _json(raw)
                if isinstance(letter, dict) and letter.get("key") in customer.keys:
                    found.append((table, _s(letter_id), letter))
        return found

    async def export(self, ctx: Context, customer: Customer) -> Any:
        return [letter for _, _, letter in await self._mine(ctx, customer)]

    async def erase(self, ctx: Context, customer: Customer) -> int:
        return sum([int(await ctx.redis.hdel(t, i)) for t, i, _ in await self._mine(ctx, customer)])


def web_conversations(customer: Customer) -> list[str]:
    return [k.removeprefix("web:") for k in customer.keys if k.startswith("web:")]


class WebLogSource:
    name = "web_log"

    async def export(self, ctx: Context, customer: Customer) -> Any:
        out: dict[str, Any] = {}
        for conversation in web_conversations(customer):
            rows = await ctx.redis.xrange(f"web:{{{conversation}}}:log")
            if rows:
                out[conversation] = [
                    {"id": _s(i), **{_s(k): _json(v) for k, v in f.items()}} for i, f in rows
                ]
        return out

    async def erase(self, ctx: Context, customer: Customer) -> int:
        removed = 0
        for conversation in web_conversations(customer):
            pattern = glob_escape(f"web:{{{conversation}}}:") + "*"
            removed += await _delete(ctx.redis, await scan(ctx.redis, pattern))
        return removed
