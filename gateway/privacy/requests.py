"""Export and erase one customer's data across every source, and the erasure records.

The sources are the built-in ones (``gateway/privacy/sources.py``, ``review.py``) plus any
registered with :func:`gateway.privacy.core.register` (a registered source of the same name
replaces the built-in one).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.privacy.core import (
    ERASURES,
    ERASURES_MAXLEN,
    SALT_ENV,
    SALT_KEY,
    SOURCES,
    Context,
    Customer,
    CustomerDataSource,
    _s,
)
from gateway.privacy.review import ReviewInboxSource
from gateway.privacy.sources import (
    ConversationSource,
    DeadLetterSource,
    HandoffSource,
    WebLogSource,
)
from gateway.store.base import LANES
from gateway.store.redis import RedisStore

# The handoff source first: it finds the thread maps through the card keys.
BUILT_IN: tuple[CustomerDataSource, ...] = (
    HandoffSource(),
    ConversationSource(),
    DeadLetterSource(),
    WebLogSource(),
    ReviewInboxSource(),
)


def sources() -> list[CustomerDataSource]:
    """Every source export and erase cover, in order."""
    registered = {s.name: s for s in SOURCES}
    found = [registered.pop(s.name, s) for s in BUILT_IN]
    return found + list(registered.values())


async def fencing(
    store: RedisStore, customer: Customer, *, wait: float = 60.0
) -> Callable[[], Awaitable[None]]:
    """Hold both lanes' locks of every key of ``customer`` (waiting up to ``wait`` seconds for
    a turn or send in progress); returns the coroutine function that releases them and
    re-posts a ticket for anything that arrived meanwhile."""
    token = f"erase-{uuid.uuid4().hex}"
    held: list[tuple[Any, str]] = []
    deadline = time.monotonic() + wait

    async def release() -> None:
        for lane, key in held:
            await store.release(lane, key, token)
            if await store.head(lane, key) is not None:
                await store.post_ticket(lane, key)

    try:
        for key in customer.keys:
            for lane in LANES:
                while not await store.acquire(lane, key, token, wait + 30):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{key}: the conversation stayed busy for {wait:.0f} s")
                    await asyncio.sleep(0.1)
                held.append((lane, key))
    except BaseException:
        await release()
        raise
    return release


@dataclass(frozen=True, slots=True)
class Erasure:
    subject: str  # keyed hash of the customer's canonical id
    at: float
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def removed(self) -> int:
        return sum(self.counts.values())


async def salt(redis: Any) -> bytes:
    """The erasure-record salt: FRONTDESK_ERASURE_SALT, else a random per-installation one."""
    configured = os.environ.get(SALT_ENV)
    if configured:
        return configured.encode()
    await redis.set(SALT_KEY, secrets.token_hex(32), nx=True)
    return bytes(await redis.get(SALT_KEY))


async def subject_hash(redis: Any, customer: Customer) -> str:
    key = await salt(redis)
    return hmac.new(key, customer.canonical.encode(), hashlib.sha256).hexdigest()


async def export_customer(store: RedisStore, customer: Customer) -> dict[str, Any]:
    ctx = Context(store.redis)
    data = {s.name: await s.export(ctx, customer) for s in sources()}
    return {
        "customer": customer.canonical,
        "asked": customer.asked,
        "keys": list(customer.keys),
        "exported_at": time.time(),
        "data": data,
    }


async def erase_customer(store: RedisStore, customer: Customer, *, wait: float = 60.0) -> Erasure:
    release = await fencing(store, customer, wait=wait)
    ctx = Context(store.redis)  # keys found after the locks are held
    try:
        counts = {s.name: await s.erase(ctx, customer) for s in sources()}
    finally:
        await release()
    erasure = Erasure(
        subject=await subject_hash(store.redis, customer), at=time.time(), counts=counts
    )
    await store.redis.xadd(
        ERASURES,
        {"subject": erasure.subject, "at": f"{erasure.at:.3f}", "counts": json.dumps(counts)},
        maxlen=ERASURES_MAXLEN,
        approximate=True,
    )
    return erasure


async def erasures(store: RedisStore) -> list[Erasure]:
    entries: Any = await store.redis.xrange(ERASURES)
    return [
        Erasure(subject=_s(f[b"subject"]), at=float(f[b"at"]), counts=json.loads(f[b"counts"]))
        for _, f in entries
    ]
