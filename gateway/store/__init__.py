"""Session and queue storage: the contract and its Redis and in-memory implementations."""

from common.errors import StoreUnavailable
from gateway.store.base import (
    LANES,
    Advance,
    Claim,
    DeadLetter,
    Lane,
    Store,
    StoredSession,
    Ticket,
    TimerChange,
    TurnCommit,
)
from gateway.store.handoff import HandoffStore


def open_store(url: str, *, max_connections: int = 512) -> Store:
    """``redis://…`` / ``rediss://…`` / ``unix://…`` for Redis, ``memory://`` in-process."""
    if url.startswith("memory://"):
        from gateway.store.memory import MemoryStore

        return MemoryStore()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from gateway.store.redis import RedisStore

        return RedisStore(url, max_connections=max_connections)
    raise ValueError(f"unsupported store.url {url!r}: use redis://… or memory://")


__all__ = [
    "LANES",
    "Advance",
    "Claim",
    "DeadLetter",
    "HandoffStore",
    "Lane",
    "Store",
    "StoreUnavailable",
    "StoredSession",
    "Ticket",
    "TimerChange",
    "TurnCommit",
    "open_store",
]
