"""Turn permits: how many turns a process computes at once, fewer while webhooks arrive.

Turns and webhooks share one event loop. Every turn in progress puts its next step in the loop's
ready queue, and a webhook's acknowledgement needs several trips through that queue (read,
verify, queue in Redis, answer), so each trip waits behind the steps of all the turns in
progress. The lane runner holds up to ``workers.turn_slots`` conversations; of those, only
``busy`` compute a turn at once while webhooks are arriving (one seen in the last ``quiet``
seconds), and all ``slots`` once they stop. Measured (README, issue 13): 16 turns at once
answer more turns per second (bigger group commits) and 8 keep acknowledgements' p99 under
50 ms; this gives each phase its own.

A turn waiting for a permit holds its conversation's lock (renewed as usual) and has not
started: nothing is lost or reordered by waiting, and a process that is not accepting webhooks
(a workers-only role) always has every slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from types import TracebackType


class TurnPermits:
    """``slots`` turns at once, ``busy`` (0: as many as ``slots``) while webhooks arrive."""

    def __init__(self, slots: int, busy: int, *, quiet: float = 0.05) -> None:
        self.slots = slots
        self.busy = min(busy or slots, slots)
        self.quiet = quiet
        self._last_arrival = -float("inf")
        self._held = 0
        self._changed = asyncio.Event()

    def arrived(self) -> None:
        """A webhook is being accepted: compute fewer turns for the next ``quiet`` seconds."""
        self._last_arrival = time.monotonic()

    @property
    def limit(self) -> int:
        accepting = time.monotonic() - self._last_arrival < self.quiet
        return self.busy if accepting else self.slots

    @property
    def held(self) -> int:
        return self._held

    async def __aenter__(self) -> None:
        while self._held >= self.limit:
            self._changed.clear()
            # a permit handed back, or the quiet window passing, may let us in
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=self.quiet)
        self._held += 1

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._held -= 1
        self._changed.set()
