"""The handoff scheduler: wakes up handed-off conversations whose timer is due.

It does not act itself: it queues a ``timer`` agent event in the conversation's lane, so that
re-announcing an unclaimed handoff or closing an abandoned one is decided by a turn that sees
the session as every other turn leaves it. Any number of processes may run it; a duplicate
wake-up finds nothing due.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from pydantic import TypeAdapter

from common.logging import get_logger
from common.messages import AgentEvent, ConversationRef, CustomerRef, encode_event
from gateway.handoff.store import HandoffStore
from gateway.store import Store, StoreUnavailable

_customer: TypeAdapter[CustomerRef] = TypeAdapter(CustomerRef)


class Ticker:
    def __init__(
        self, *, store: Store, hstore: HandoffStore, channel: str, every: float, dedup_ttl: float
    ) -> None:
        self.store = store
        self.hstore = hstore
        self.channel = channel
        self.every = every
        self.dedup_ttl = dedup_ttl
        self._stopping = asyncio.Event()
        self._log = get_logger(component="handoff_ticker")

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.tick(time.time())
            except StoreUnavailable as exc:
                self._log.warning("store_unavailable", error=str(exc))
            except Exception:
                self._log.exception("handoff_tick_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.every)

    def stop(self) -> None:
        self._stopping.set()

    async def tick(self, now: float) -> int:
        due = await self.hstore.due(now, limit=200)
        for key, customer in due:
            event = AgentEvent(
                event_id=f"handoff:timer:{int(now * 1000)}",
                conversation=ConversationRef(channel="slack", chat_id=self.channel),
                customer=_customer.validate_json(customer),
                action="timer",
                agent_id="",
                received_at=now,
            )
            await self.store.enqueue(key, event.event_id, encode_event(event), self.dedup_ttl)
        return len(due)
