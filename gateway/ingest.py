"""Ingest: claim each inbound event by its platform id and put it on the durable queue.

Nothing else happens before the webhook is answered. A re-delivery is recognised by its id and
dropped; a store outage raises StoreUnavailable so the webhook answers 503 and the platform
retries (nothing is acknowledged that was not stored).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from common.messages import InboundEvent, encode_event
from gateway.metrics import Metrics
from gateway.store import Store

Admission = Literal["accepted", "duplicate", "unrouted"]
# Finds the conversation an event belongs to when the adapter could not (an agent's reply in a
# handoff card's thread); None drops the event.
Resolver = Callable[[InboundEvent], Awaitable[InboundEvent | None]]


class Ingest:
    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        *,
        dedup_ttl: float,
        resolver: Resolver | None = None,
        on_arrival: Callable[[], None] | None = None,
    ) -> None:
        self.on_arrival = on_arrival  # told of each event (the turn permits yield to webhooks)
        self.resolver = resolver
        self.store = store
        self.metrics = metrics
        self.dedup_ttl = dedup_ttl

    async def accept(self, event: InboundEvent) -> Admission:
        if self.on_arrival is not None:
            self.on_arrival()
        if self.resolver is not None:
            resolved = await self.resolver(event)
            if resolved is None:
                self.metrics.events_in.labels(event.conversation.channel, "unrouted").inc()
                return "unrouted"
            event = resolved
        fresh = await self.store.enqueue(
            event.session_key, event.event_id, encode_event(event), self.dedup_ttl
        )
        outcome: Admission = "accepted" if fresh else "duplicate"
        self.metrics.events_in.labels(event.conversation.channel, outcome).inc()
        return outcome
