"""A handoff turn's bookkeeping: its timer change, written by the turn's atomic commit (so a
crash after the commit cannot lose a re-announcement or an abandonment); then, once the turn is
committed, the statistics and the queue's pickup samples.

The statistics are written only after the commit, so a turn re-run after a crash (which did not
commit) is not counted twice; and they never fail a committed turn.
"""

from __future__ import annotations

import json

from pydantic import TypeAdapter

from common.logging import get_logger
from common.messages import CustomerRef
from gateway.handoff.records import Claimed, HandedOff, StatsRecord, record_json
from gateway.handoff.state import handoff_of
from gateway.handoff.stats import Stats
from gateway.handoff.store import HandoffStore, day_of
from gateway.handoff.timers import Timers
from gateway.sessions import Session
from gateway.settings import HandoffSettings
from gateway.store import TimerChange

_customer: TypeAdapter[CustomerRef] = TypeAdapter(CustomerRef)


class Bookkeeping:
    def __init__(
        self, *, settings: HandoffSettings, hstore: HandoffStore, stats: Stats, timers: Timers
    ) -> None:
        self.settings = settings
        self.hstore = hstore
        self.stats = stats
        self.timers = timers

    async def after_commit(
        self, key: str, before: Session | None, after: Session, records: list[StatsRecord]
    ) -> None:
        try:
            await self._after_commit(key, before, after, records)
        except Exception:  # never fail a committed turn
            get_logger(conversation_id=key).exception("handoff_bookkeeping_failed")

    async def _after_commit(
        self, key: str, before: Session | None, after: Session, records: list[StatsRecord]
    ) -> None:
        now = after.updated_at
        started = any(isinstance(r, HandedOff) for r in records)
        if started or before is None or day_of(before.updated_at) != day_of(now):
            await self.hstore.seen(key, now, handed_off=started)
        for record in records:
            self.stats.observe(record)
            await self.hstore.log(record_json(record))
            if isinstance(record, Claimed):
                keep = self.settings.pickup_samples
                await self.hstore.add_pickup(record.queue, record.seconds, keep)

    def timer_change(
        self, before: Session | None, after: Session, records: list[StatsRecord]
    ) -> TimerChange | None:
        """The turn's change to the conversation's timer, for its atomic commit: wake an open
        handoff up when it is next due; forget the timer of one that has just closed."""
        state = handoff_of(after)
        previous = handoff_of(before) if before is not None else None
        was_open = previous is not None and previous.open
        if state is not None and state.open:
            customer = json.dumps(_customer.dump_python(state.customer, mode="json"))
            return TimerChange(due=self.timers.next_due(state), customer=customer)
        if was_open or records:
            return TimerChange(due=None)
        return None
