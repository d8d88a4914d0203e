"""Session and queue storage: the contract and its Redis and in-memory implementations."""

from common.errors import StoreUnavailable
from common.redisconn import is_redis_url
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
    """``memory://`` in-process; for Redis one server (``redis://``, ``rediss://``,
    ``unix://``), a cluster (``redis+cluster://h:p,h:p``) or Sentinel
    (``redis+sentinel://h:p,h:p/service``), see common/redisconn.py."""
    if url.startswith("memory://"):
        from gateway.store.memory import MemoryStore

        return MemoryStore()
    if is_redis_url(url):
        from gateway.store.redis import RedisStore

        return RedisStore(url, max_connections=max_connections)
    raise ValueError(
        f"unsupported store.url {url.split('://', 1)[0]!r}://…: use memory://, redis://, "
        "rediss://, unix://, redis+cluster:// or redis+sentinel://"
    )


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
