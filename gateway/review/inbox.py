"""The review inbox's storage: one item per normalised text, with its count, first and last
time seen, how it went wrong (kinds), a few example conversation ids, the bot's latest top
guesses and an admin's label. Bounded (the least recently seen items go first) and with a TTL
(an item not seen again expires). Redis (shared by every process; all keys in one hash slot)
or in-process memory."""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.store import Store

KINDS = ("miss", "low_confidence", "no", "handoff", "teach")  # teach: a draft FAQ entry
MAX_ITEMS = 5000
TTL = 30 * 24 * 3600
EXAMPLES = 5
_PUNCT = re.compile(r"[^\w\s]+")


def normalise(text: str) -> str:
    """Lower case, punctuation dropped, digits as 0, spaces collapsed: "Where's my order
    #123?" and "wheres my order 456" are one item."""
    return " ".join(re.sub(r"\d", "0", _PUNCT.sub("", text.lower())).split())


def item_id(normal: str) -> str:
    return hashlib.sha1(normal.encode()).hexdigest()[:10]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewItem:
    id: str
    text: str  # the latest wording
    count: int
    first_seen: float
    last_seen: float
    kinds: dict[str, int] = field(default_factory=dict)
    conversations: tuple[str, ...] = ()
    guesses: tuple[tuple[str, float], ...] = ()  # "intent:NAME" / "faq:ID", score
    label: dict[str, Any] | None = None  # {"intent": N} | {"faq": ID} | {"new_faq": …} | ignore
    applied: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "text": self.text, "count": self.count,
            "first_seen": self.first_seen, "last_seen": self.last_seen,
            "kinds": self.kinds, "conversations": list(self.conversations),
            "guesses": [{"name": n, "score": s} for n, s in self.guesses],
            "label": self.label, "applied": self.applied,
        }  # fmt: skip


class ReviewInbox(Protocol):
    async def add(
        self, text: str, kind: str, conversation: str, guesses: list[tuple[str, float]],
        at: float | None = None,
    ) -> str | None:  # fmt: skip
        """Count ``text`` in its item (created when new); returns the item id."""

    async def items(self, since: float = 0.0) -> list[ReviewItem]:
        """Items last seen at or after ``since``, most frequent first."""

    async def get(self, ident: str) -> ReviewItem | None: ...

    async def label(self, ident: str, label: dict[str, Any]) -> bool: ...

    async def mark_applied(self, ident: str) -> None: ...

    async def count(self, outcome: str, at: float) -> None:
        """One knowledge-base outcome (answer, miss, yes, no) on ``at``'s day (UTC)."""

    async def counts(self, since: float, until: float) -> dict[str, int]:
        """Knowledge-base outcomes on the days of the period."""


def day_of(at: float) -> str:
    return time.strftime("%Y%m%d", time.gmtime(at))


def days_between(since: float, until: float) -> list[str]:
    days, at = [], since - since % 86400
    while at <= until:
        days.append(day_of(at))
        at += 86400
    return days


def review_inbox(store: Store, retention: float | None = None) -> ReviewInbox:
    """The store's review inbox; items expire within ``retention`` seconds when given."""
    redis = getattr(store, "redis", None)
    ttl = TTL if retention is None else min(TTL, retention)
    return RedisReviewInbox(redis, ttl=ttl) if redis is not None else MemoryReviewInbox()


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisReviewInbox:
    INDEX = "fd:{review}:index"  # zset: id -> last seen
    ITEM = "fd:{review}:item:"  # hash
    CONVS = "fd:{review}:convs:"  # list of recent conversation ids

    def __init__(self, redis: Any, *, max_items: int = MAX_ITEMS, ttl: float = TTL) -> None:
        self.redis = redis
        self.max_items = max_items
        self.ttl = int(ttl)

    async def add(
        self, text: str, kind: str, conversation: str, guesses: list[tuple[str, float]],
        at: float | None = None,
    ) -> str | None:  # fmt: skip
        normal = normalise(text)
        if not normal:
            return None
        at = time.time() if at is None else at
        ident = item_id(normal)
        key = self.ITEM + ident
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, "first_seen", at)
            pipe.hset(key, mapping={"text": text.strip()[:500], "last_seen": at,
                                    "guesses": json.dumps(guesses[:3])})  # fmt: skip
            pipe.hincrby(key, "count", 1)
            pipe.hincrby(key, f"kind:{kind}", 1)
            pipe.expire(key, self.ttl)
            pipe.lrem(self.CONVS + ident, 0, conversation)
            pipe.lpush(self.CONVS + ident, conversation)
            pipe.ltrim(self.CONVS + ident, 0, EXAMPLES - 1)
            pipe.expire(self.CONVS + ident, self.ttl)
            pipe.zadd(self.INDEX, {ident: at})
            pipe.zremrangebyscore(self.INDEX, 0, at - self.ttl)
            await pipe.execute()
        # Bounded: drop the least recently seen beyond the limit.
        excess = await self.redis.zcard(self.INDEX) - self.max_items
        if excess > 0:
            for old, _ in await self.redis.zpopmin(self.INDEX, excess):
                await self.redis.delete(self.ITEM + _s(old), self.CONVS + _s(old))
        return ident

    async def get(self, ident: str) -> ReviewItem | None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.ITEM + ident)
            pipe.lrange(self.CONVS + ident, 0, -1)
            raw, convs = await pipe.execute()
        if not raw:
            return None
        data = {_s(k): _s(v) for k, v in raw.items()}
        return ReviewItem(
            id=ident,
            text=data.get("text", ""),
            count=int(data.get("count", 0)),
            first_seen=float(data.get("first_seen", 0)),
            last_seen=float(data.get("last_seen", 0)),
            kinds={k[5:]: int(v) for k, v in data.items() if k.startswith("kind:")},
            conversations=tuple(_s(c) for c in convs),
            guesses=tuple((str(n), float(s)) for n, s in json.loads(data.get("guesses", "[]"))),
            label=json.loads(data["label"]) if "label" in data else None,
            applied=data.get("applied") == "1",
        )

    async def items(self, since: float = 0.0) -> list[ReviewItem]:
        ids = [_s(i) for i in await self.redis.zrangebyscore(self.INDEX, since, "+inf")]
        found = [item for i in ids if (item := await self.get(i)) is not None]
        return sorted(found, key=lambda i: (-i.count, -i.last_seen))

    async def label(self, ident: str, label: dict[str, Any]) -> bool:
        if not await self.redis.exists(self.ITEM + ident):
            return False
        await self.redis.hset(self.ITEM + ident, mapping={"label": json.dumps(label),
                                                          "applied": "0"})  # fmt: skip
        return True

    async def mark_applied(self, ident: str) -> None:
        await self.redis.hset(self.ITEM + ident, "applied", "1")

    async def count(self, outcome: str, at: float) -> None:
        key = f"fd:{{review}}:kb:{day_of(at)}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, outcome, 1)
            pipe.expire(key, 400 * 86400)
            await pipe.execute()

    async def counts(self, since: float, until: float) -> dict[str, int]:
        total: dict[str, int] = {}
        for day in days_between(since, until):
            for k, v in (await self.redis.hgetall(f"fd:{{review}}:kb:{day}")).items():
                total[_s(k)] = total.get(_s(k), 0) + int(v)
        return total


class MemoryReviewInbox:
    """The same, in one process (``store.url: memory://``)."""

    def __init__(self, *, max_items: int = MAX_ITEMS) -> None:
        self.max_items = max_items
        self._items: dict[str, ReviewItem] = {}
        self._days: dict[str, dict[str, int]] = {}

    async def count(self, outcome: str, at: float) -> None:
        day = self._days.setdefault(day_of(at), {})
        day[outcome] = day.get(outcome, 0) + 1

    async def counts(self, since: float, until: float) -> dict[str, int]:
        total: dict[str, int] = {}
        for day in days_between(since, until):
            for k, v in self._days.get(day, {}).items():
                total[k] = total.get(k, 0) + v
        return total

    async def add(
        self, text: str, kind: str, conversation: str, guesses: list[tuple[str, float]],
        at: float | None = None,
    ) -> str | None:  # fmt: skip
        normal = normalise(text)
        if not normal:
            return None
        at = time.time() if at is None else at
        ident = item_id(normal)
        old = self._items.get(ident)
        kinds = dict(old.kinds) if old else {}
        kinds[kind] = kinds.get(kind, 0) + 1
        before = old.conversations if old else ()
        convs = [conversation, *(c for c in before if c != conversation)]
        self._items[ident] = ReviewItem(
            id=ident, text=text.strip()[:500], count=(old.count if old else 0) + 1,
            first_seen=old.first_seen if old else at, last_seen=at, kinds=kinds,
            conversations=tuple(convs[:EXAMPLES]), guesses=tuple(guesses[:3]),
            label=old.label if old else None, applied=old.applied if old else False,
        )  # fmt: skip
        while len(self._items) > self.max_items:
            oldest = min(self._items.values(), key=lambda i: i.last_seen)
            del self._items[oldest.id]
        return ident

    async def get(self, ident: str) -> ReviewItem | None:
        return self._items.get(ident)

    async def items(self, since: float = 0.0) -> list[ReviewItem]:
        found = [i for i in self._items.values() if i.last_seen >= since]
        return sorted(found, key=lambda i: (-i.count, -i.last_seen))

    async def label(self, ident: str, label: dict[str, Any]) -> bool:
        from dataclasses import replace

        if ident not in self._items:
            return False
        self._items[ident] = replace(self._items[ident], label=label, applied=False)
        return True

    async def mark_applied(self, ident: str) -> None:
        from dataclasses import replace

        if ident in self._items:
            self._items[ident] = replace(self._items[ident], applied=True)
