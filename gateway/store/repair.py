"""Tickets posted again after a Redis failover, so that nothing accepted waits forever.

Redis replicates asynchronously. When a primary dies, a ticket it had acknowledged (an entry of
a lane's stream) may not have reached the replica that takes over, while the conversation's
items it announced did (they live in other slots, or were replicated first). Such a
conversation would wait for its customer's next message. So once the store answers again
after any failed call, and once shortly after start, every conversation with items waiting
gets a fresh ticket; a ticket for a conversation that is empty or held by another worker is
simply acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib

from common.errors import StoreUnavailable
from common.logging import get_logger
from gateway.store.redis import RedisStore

START_DELAY = 10.0  # seconds after start before the first sweep


class TicketRepair:
    """Runs until stopped: a sweep soon after start (``start_delay``: the deployment may have
    been down during a failover), then one after each outage has ended (after ``delay``
    seconds, so that ordinary reclaiming goes first)."""

    def __init__(
        self,
        store: RedisStore,
        *,
        delay: float,
        every: float = 1.0,
        start_delay: float = START_DELAY,
    ) -> None:
        self.store = store
        self.delay = delay
        self.every = every
        self.start_delay = start_delay
        self.sweeps = 0
        self._stopped = asyncio.Event()
        self._log = get_logger(component="ticket_repair")

    async def run(self) -> None:
        if await self._pause(self.start_delay):
            return
        seen = -1  # the first sweep
        while not self._stopped.is_set():
            if self.store.outages != seen:
                try:
                    await self.store.ping()
                    if seen >= 0 and await self._pause(self.delay):
                        return
                    seen = self.store.outages
                    posted = await self.store.repost_tickets()
                    self.sweeps += 1
                    self._log.info("tickets_reposted", conversations=posted)
                except StoreUnavailable as exc:
                    self._log.warning("ticket_repair_waiting", error=str(exc))
            if await self._pause(self.every):
                return

    async def _pause(self, seconds: float) -> bool:
        """Sleep; True when stopped meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), timeout=seconds)
        return self._stopped.is_set()

    def stop(self) -> None:
        self._stopped.set()
