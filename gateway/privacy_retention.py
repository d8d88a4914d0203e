"""Retention: remove what has no TTL of its own once it is older than
``store.transcript_retention``.

Sessions, transcripts, dedup ids, handoff records and the web chat log expire by their TTLs
(clamped to the retention by the settings and the stores). Dead letters live as fields of one
hash, which cannot expire field by field on every supported Redis, so a periodic sweep removes
those that failed longer ago than the retention.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from gateway.logging import get_logger
from gateway.privacy_sources import DEAD_LETTER_HASHES

SWEEP_EVERY = 3600.0  # seconds between sweeps


async def sweep(redis: Any, retention: float, now: float | None = None) -> int:
    """Remove dead letters that failed more than ``retention`` seconds ago; how many."""
    cutoff = (time.time() if now is None else now) - retention
    removed = 0
    for table in DEAD_LETTER_HASHES:
        old = []
        for letter_id, raw in (await redis.hgetall(table)).items():
            try:
                failed_at = float(json.loads(raw).get("failed_at", 0.0))
            except (ValueError, AttributeError, TypeError):
                continue  # not ours to judge: left for `frontdesk dlq`
            if failed_at < cutoff:
                old.append(letter_id)
        if old:
            removed += int(await redis.hdel(table, *old))
    return removed


class RetentionSweeper:
    """Runs :func:`sweep` every ``every`` seconds until stopped."""

    def __init__(self, redis: Any, retention: float, every: float = SWEEP_EVERY) -> None:
        self.redis = redis
        self.retention = retention
        self.every = every
        self._stopped = asyncio.Event()
        self._log = get_logger(component="retention")

    async def run(self) -> None:
        while not self._stopped.is_set():
            try:
                removed = await sweep(self.redis, self.retention)
                if removed:
                    self._log.info("retention_swept", dead_letters=removed)
            except Exception as exc:  # the store is down: try again next time
                self._log.warning("retention_sweep_failed", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=self.every)

    def stop(self) -> None:
        self._stopped.set()
