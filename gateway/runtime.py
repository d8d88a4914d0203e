"""The gateway's working parts wired together: store, channels, ingest, turn and send lanes.

``frontdesk run`` serves it over HTTP (``gateway.http``, mounted by ``frontdesk.app``);
``frontdesk chat`` drives the same object from a terminal. There is one pipeline, whatever
the front end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid

from channels.base import Channel
from dialogs.base import Dialog
from gateway.admission import TurnPermits
from gateway.handoff import build_handoff
from gateway.handoff.media import MediaSigner
from gateway.ingest import Ingest
from gateway.lanes import LaneRunner
from gateway.limits import Bucket, SenderLimits
from gateway.metrics import Metrics
from gateway.outbox import Outbox
from gateway.privacy.retention import RetentionSweeper
from gateway.review import review_inbox
from gateway.review.record import MARGIN_INTENT, ReviewRecorder
from gateway.settings import GatewaySettings
from gateway.store import LANES, Store, open_store
from gateway.store.redis import RedisStore
from gateway.store.repair import TicketRepair
from gateway.worker import DEFAULT_HELP_TEXT, TurnWorker


def retention_sweeper(store: Store, retention: float) -> RetentionSweeper | None:
    """The periodic retention sweep, for a shared Redis store (see gateway/privacy/retention.py)."""
    redis = getattr(store, "redis", None)
    return None if redis is None else RetentionSweeper(redis, retention)


class Gateway:
    """The pipe. ``frontdesk.app.build_gateway`` builds one from the whole configuration; the
    extras that belong to other packages' settings come in as plain values."""

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        dialog: Dialog,
        channels: dict[str, Channel],
        store: Store | None = None,
        consumer: str | None = None,
        media: MediaSigner | None = None,
        nlu_threshold: float = 0.5,
        help_text: str = DEFAULT_HELP_TEXT,
    ) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.store = store or open_store(
            settings.store.url, max_connections=settings.store.max_connections
        )
        self.channels = channels
        # what each conversation channel can do, as its adapter declares it
        self.capabilities = {
            name: ch.capabilities[name]
            for name, ch in channels.items()
            if name in ch.capabilities  # (a test may key an adapter by its own name)
        }
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.handoff = build_handoff(
            settings,
            self.store,
            self.metrics,
            slack_enabled="slack" in channels,
            media=media,
            capabilities=self.capabilities,
        )
        w = settings.workers
        slots = min(w.concurrency, w.turn_slots)
        self.permits = TurnPermits(slots, w.turn_slots_accepting)
        self.ingest = Ingest(
            self.store,
            self.metrics,
            dedup_ttl=settings.store.dedup_ttl,
            resolver=self.handoff.relay.resolve if self.handoff else None,
            on_arrival=self.permits.arrived,
        )
        self.worker = TurnWorker(
            store=self.store,
            dialog=dialog,
            metrics=self.metrics,
            session_ttl=settings.store.session_ttl,
            transcript_limit=settings.store.transcript_limit,
            help_text=help_text,
            desk=self.handoff.desk if self.handoff else None,
            review=ReviewRecorder(
                review_inbox(self.store, retention=settings.store.transcript_retention),
                low_intent=nlu_threshold + MARGIN_INTENT,
            ),
            limits=sender_limits(settings),
            capabilities=self.capabilities,
        )
        self.outbox = Outbox(
            store=self.store,
            channels=channels,
            metrics=self.metrics,
            settings=settings.outbox,
            lease=settings.workers.lease,
            hooks=self.handoff.relay if self.handoff else None,
        )
        self.outbox.sent_ttl = min(self.outbox.sent_ttl, settings.store.transcript_retention)
        self.runners = [
            LaneRunner(
                store=self.store,
                lane=lane,
                handler=self.worker.handle if lane == "turns" else self.outbox.handle,
                metrics=self.metrics,
                consumer=self.consumer,
                concurrency=slots if lane == "turns" else w.concurrency,
                lease=w.lease,
                reclaim_idle=w.reclaim_idle,
                max_attempts=w.max_attempts,
                follow_up="sends" if lane == "turns" else None,
                permits=self.permits if lane == "turns" else None,
            )
            for lane in LANES
        ]
        self._tasks: list[asyncio.Task[None]] = []
        self.sweeper = retention_sweeper(self.store, settings.store.transcript_retention)
        # After a Redis failover, tickets lost with the old primary are posted again.
        self.repair = (
            TicketRepair(self.store, delay=w.reclaim_idle)
            if isinstance(self.store, RedisStore)
            else None
        )

    async def start(self, *, workers: bool = True) -> None:
        for channel in self.adapters():
            await channel.start(self.ingest.accept)
        if workers:
            self._tasks = [asyncio.create_task(r.run()) for r in self.runners]
            if self.handoff is not None:
                self._tasks.append(asyncio.create_task(self.handoff.ticker.run()))
            if self.sweeper is not None:
                self._tasks.append(asyncio.create_task(self.sweeper.run()))
            if self.repair is not None:
                self._tasks.append(asyncio.create_task(self.repair.run()))

    async def stop(self) -> None:
        """Stop taking work, finish what is held, then close channels and the store."""
        grace = self.settings.workers.shutdown_grace
        if self.handoff is not None:
            self.handoff.ticker.stop()
        if self.sweeper is not None:
            self.sweeper.stop()
        if self.repair is not None:
            self.repair.stop()
        await asyncio.gather(*(r.stop(grace) for r in self.runners))
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for channel in self.adapters():
            await channel.close()
        await self.store.close()

    def adapters(self) -> list[Channel]:
        """Each adapter once (one adapter may serve several conversation channels)."""
        unique: dict[int, Channel] = {}
        for channel in self.channels.values():
            unique.setdefault(id(channel), channel)
        return list(unique.values())

    async def idle(self) -> bool:
        """True when the pipeline has nothing left to do: no conversation being drained here,
        and no work ticket waiting or in progress in any lane, so in no process sharing the
        store either (a turn's commit posts its sends ticket before its own is acknowledged,
        so work in flight always holds a ticket). A timer that comes due later (a handoff
        re-announce, a retention sweep) is not work yet."""
        if any(runner.busy for runner in self.runners):
            return False
        for lane in LANES:
            if await self.store.depth(lane):
                return False
        return not any(runner.busy for runner in self.runners)

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until ``idle()``; False if it is not within ``timeout`` seconds. Woken by each
        drain that ends here; work that another process holds is looked at every 50 ms."""
        deadline = time.monotonic() + timeout
        while True:
            for runner in self.runners:
                runner.drain_ended.clear()
            if await self.idle():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            ended = [asyncio.create_task(r.drain_ended.wait()) for r in self.runners]
            await asyncio.wait(ended, timeout=min(remaining, 0.05), return_when="FIRST_COMPLETED")
            for task in ended:
                task.cancel()

    async def refresh_gauges(self) -> None:
        for lane in LANES:
            self.metrics.queue_depth.labels(lane).set(await self.store.depth(lane))
        if self.handoff is not None:
            await self.handoff.refresh_gauges()


def sender_limits(settings: GatewaySettings) -> SenderLimits | None:
    """The per-sender rate limits of ``limits``, or None when they are off."""
    limits = settings.limits
    if not limits.enabled:
        return None
    default = Bucket(rate=limits.per_sender.rate, burst=limits.per_sender.burst)
    channels = {c: Bucket(rate=b.rate, burst=b.burst) for c, b in limits.channels.items()}
    return SenderLimits(default=default, channels=channels)
