"""The handoff's store: the one its gateway store supplies (``Store.handoff_store``).

The contract and its implementations live with the stores (``gateway.store.handoff``,
``redis_handoff``, ``memory_handoff``); this module keeps the names the handoff code uses.
"""

from __future__ import annotations

from gateway.store import Store
from gateway.store.handoff import HandoffStore, day_of, days_between
from gateway.store.memory_handoff import MemoryHandoffStore
from gateway.store.redis_handoff import RedisHandoffStore


def handoff_store(store: Store, retention: float | None = None) -> HandoffStore:
    """``store``'s handoff store; records about a customer never outlive ``retention``."""
    return store.handoff_store(retention)


__all__ = [
    "HandoffStore",
    "MemoryHandoffStore",
    "RedisHandoffStore",
    "day_of",
    "days_between",
    "handoff_store",
]
