"""Retention: remove what has no TTL of its own once it is older than
``store.transcript_retention``.

Sessions, transcripts, dedup ids, handoff records and the web chat log expire by their TTLs
(clamped to the retention by the settings and the stores). What a TTL cannot cover, a periodic
sweep removes: dead letters (fields of one hash) that failed longer ago than the retention, and
the old entries of a customer who keeps writing (each turn renews the transcript's and the web
log's TTL): transcript entries and web log entries older than the retention. Transcripts and
web logs have no index, so the sweep finds them with SCAN and a match pattern.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from common.logging import get_logger
from gateway.privacy.sources import DEAD_LETTER_HASHES

SWEEP_EVERY = 3600.0  # seconds between sweeps

# Pop transcript entries older than ARGV[1] from the head (oldest first), atomically with the
# turn commits that append to the tail.
_TRIM_TRANSCRIPT = """
local removed = 0
while true do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head then break end
  local ok, entry = pcall(cjson.decode, head)
  if not ok or type(entry) ~= 'table' or tonumber(entry['at'] or 0) >= tonumber(ARGV[1]) then
    break
  end
  redis.call('LPOP', KEYS[1])
  removed = removed + 1
end
return removed
"""


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


async def trim_old_entries(redis: Any, retention: float, now: float | None = None) -> int:
    """Remove transcript and web log entries older than ``retention``; how many."""
    cutoff = (time.time() if now is None else now) - retention
    removed = 0
    async for key in redis.scan_iter(match="fd:{*}:transcript", count=1000):
        removed += int(await redis.eval(_TRIM_TRANSCRIPT, 1, key, repr(cutoff)))
    async for key in redis.scan_iter(match="web:{*}:log", count=1000):
        removed += int(await redis.xtrim(key, minid=str(int(cutoff * 1000)), approximate=False))
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
                letters = await sweep(self.redis, self.retention)
                entries = await trim_old_entries(self.redis, self.retention)
                if letters or entries:
                    self._log.info("retention_swept", dead_letters=letters, entries=entries)
            except Exception as exc:  # the store is down: try again next time
                self._log.warning("retention_sweep_failed", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=self.every)

    def stop(self) -> None:
        self._stopped.set()
