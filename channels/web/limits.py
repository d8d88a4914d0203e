"""Rate limits for the widget: token buckets per visitor and per IP address, in this process.

A bucket holds ``rate`` tokens, refilled evenly over ``period`` seconds; a message or a new
conversation takes one, and is refused (not delayed) when none is left. Idle buckets are
forgotten, so the table stays as small as the set of recent visitors.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Buckets:
    def __init__(
        self, rate: int, period: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = float(rate)
        self.period = period
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._pruned = clock()

    def take(self, key: str) -> bool:
        now = self.clock()
        tokens, at = self._buckets.get(key, (self.rate, now))
        tokens = min(self.rate, tokens + (now - at) * self.rate / self.period)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        if now - self._pruned > self.period:
            self._prune(now)
        return allowed

    def _prune(self, now: float) -> None:
        """Drop buckets that have refilled completely (they hold no information)."""
        self._pruned = now
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < self.period}
