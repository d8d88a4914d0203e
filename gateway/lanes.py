"""Lane runner: one writer per conversation, in arrival order, across every process.

A runner takes tickets from its lane, locks the ticket's conversation, and hands the
conversation's items to its handler one by one, oldest first, until the list is empty; the lock
is released atomically only when the list is empty, and only then is the ticket acknowledged.
Conversations are handled concurrently (up to ``concurrency``; a runner reads no more tickets
than it has free slots, so the rest wait in the store, not in the process). Tickets are
acknowledged in batches: one round trip for all those finished meanwhile. Tickets that a dead
process left unacknowledged are reclaimed after ``reclaim_idle`` seconds. ``stop()`` stops taking
tickets and lets each held conversation finish its current item, then hands the rest back.
``busy`` and ``drain_ended`` let an observer (``Gateway.wait_idle``) see when work stops.

An item whose handler fails (anything but a store outage or a lost lock) is tried again, up to
``max_attempts`` times counted in the store (so across processes); then it is moved to the
dead-letter queue with the error, and the conversation goes on with its next item: one item
that cannot be processed never blocks its conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable

from common.logging import get_logger
from common.tasks import cancel_and_wait
from gateway.admission import TurnPermits
from gateway.metrics import Metrics
from gateway.store import DeadLetter, Lane, Store, StoreUnavailable, Ticket

# (conversation key, lock token, item) -> the next item, or None when the handler's commit
# found the list empty and released the lock (see Store.commit_turn / commit_sent).
Handler = Callable[[str, str, bytes], Awaitable[bytes | None]]


# Failed attempts at an item are forgotten this long after the last one.
FAILURE_MEMORY = 24 * 3600.0


class LockLost(Exception):
    """Our lock on a conversation expired; another process may own it now."""


class LaneRunner:
    def __init__(
        self,
        *,
        store: Store,
        lane: Lane,
        handler: Handler,
        metrics: Metrics,
        consumer: str,
        concurrency: int,
        lease: float,
        reclaim_idle: float,
        block: float = 1.0,
        max_attempts: int = 3,
        follow_up: Lane | None = None,
        permits: TurnPermits | None = None,
    ) -> None:
        self.follow_up = follow_up
        # each item's handler runs under a permit (gateway/admission.py), when given
        self.permits: contextlib.AbstractAsyncContextManager[None] = (
            permits if permits is not None else contextlib.nullcontext()
        )
        self.max_attempts = max_attempts
        self.store = store
        self.lane = lane
        self.handler = handler
        self.metrics = metrics
        self.consumer = consumer
        self.lease = lease
        self.reclaim_idle = reclaim_idle
        self.block = block
        self.concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._acks: list[str] = []  # finished tickets, acknowledged by the next batch
        self._ack_ready = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        # Set each time a conversation's drain ends (its ticket acknowledged or left pending):
        # an observer clears it, checks whether the pipeline is idle, and waits on it again.
        self.drain_ended = asyncio.Event()
        self._log = get_logger(lane=lane, consumer=consumer)

    @property
    def busy(self) -> bool:
        """True while this runner is draining a conversation (a turn or send in flight)."""
        return bool(self._tasks)

    # ------------------------------------------------------------------ loop
    async def run(self) -> None:
        reclaimer = asyncio.create_task(self._reclaim_loop())
        acker = asyncio.create_task(self._ack_loop())
        try:
            while not self._stopping.is_set():
                await self._slots.acquire()
                self._slots.release()
                try:
                    tickets = await self._next_tickets()
                except StoreUnavailable as exc:
                    self._log.warning("store_unavailable", error=str(exc))
                    await self._pause(1.0)
                    continue
                for ticket in tickets:
                    await self._spawn(ticket)
        finally:
            # Not a bare cancel(): a cancelled Redis call may carry on (common/tasks.py).
            await cancel_and_wait(reclaimer)
            await cancel_and_wait(acker)
            await self._flush_acks()

    async def _next_tickets(self) -> list[Ticket]:
        """Wait for tickets, or for ``stop()``: a shutdown does not wait out a blocking read.
        Tickets a cancelled read had already taken stay pending and are reclaimed."""
        free = max(1, min(32, self.concurrency - len(self._tasks)))
        read = asyncio.create_task(
            self.store.next_tickets(self.lane, self.consumer, count=free, block=self.block)
        )
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({read, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not read.done():
            read.cancel()
            try:
                await read
            except (asyncio.CancelledError, StoreUnavailable):
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # we are cancelled ourselves, not just the read: do not loop on
            return []
        return read.result()

    async def _reclaim_loop(self) -> None:
        while not self._stopping.is_set():
            await self._pause(max(0.05, self.reclaim_idle / 2))
            if self._stopping.is_set():
                return
            try:
                tickets = await self.store.reclaim_tickets(
                    self.lane, self.consumer, self.reclaim_idle, count=64
                )
            except StoreUnavailable:
                continue
            if self._stopping.is_set():
                return  # what it took stays pending, for the next reclaim
            for ticket in tickets:
                self.metrics.reclaimed.labels(self.lane).inc()
                await self._spawn(ticket)

    def _ack(self, ticket_id: str) -> None:
        self._acks.append(ticket_id)
        self._ack_ready.set()

    async def _ack_loop(self) -> None:
        """Acknowledge finished tickets in batches: while one batch is on its way, the next
        gathers. A batch lost to a store outage leaves its tickets pending: reclaimed later,
        they find their conversations empty (harmless)."""
        while True:
            await self._ack_ready.wait()
            self._ack_ready.clear()
            await self._flush_acks()

    async def _flush_acks(self) -> None:
        batch, self._acks = self._acks, []
        if batch:
            try:
                await self.store.ack(self.lane, *batch)
            except StoreUnavailable as exc:
                self._log.warning("store_unavailable", error=str(exc), unacknowledged=len(batch))
            self.drain_ended.set()  # the tickets are gone from the stream now

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _spawn(self, ticket: Ticket) -> None:
        await self._slots.acquire()
        task = asyncio.create_task(self._drain(ticket))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()
        self.drain_ended.set()

    async def stop(self, grace: float) -> None:
        """Stop taking tickets; let held conversations finish their current item."""
        self._stopping.set()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            await asyncio.gather(*(cancel_and_wait(task) for task in pending))
        await self._flush_acks()  # what the held conversations finished

    # ----------------------------------------------------------------- drain
    async def _drain(self, ticket: Ticket) -> None:
        key, token = ticket.key, uuid.uuid4().hex
        log = self._log.bind(conversation_id=key)
        try:
            claim = await self.store.claim(self.lane, key, token, self.lease)
            if claim == "held":
                # Someone holds the conversation. A live holder will see our item before it
                # can release (release is conditional on an empty list); a dead holder's own
                # ticket stays pending and will be reclaimed. A reclaimed ticket is kept
                # pending until its conversation can be locked.
                if not ticket.reclaimed:
                    self._ack(ticket.id)
                return
            if isinstance(claim, bytes):
                renewer = asyncio.create_task(self._renew(key, token))
                try:
                    handed_back = await self._drain_locked(key, token, claim)
                finally:
                    await cancel_and_wait(renewer)
                if handed_back:
                    await self.store.post_ticket(self.lane, key)
            if ticket.reclaimed and self.follow_up is not None:
                # The process that died may have committed work for the next lane without
                # posting its ticket: post one (a ticket for an empty list is harmless).
                await self.store.post_ticket(self.follow_up, key)
            self._ack(ticket.id)
        except StoreUnavailable as exc:
            # Leave the ticket pending: it is reclaimed once the store is back.
            log.warning("store_unavailable", error=str(exc))
        except LockLost:
            log.warning("lock_lost")
        except Exception:
            log.exception("lane_drain_failed")

    async def _drain_locked(self, key: str, token: str, item: bytes | None) -> bool:
        """Handle the conversation's items, oldest first, until the handler's commit finds
        the list empty and releases the lock. True if handed back on stop."""
        while item is not None:
            if self._stopping.is_set():
                await self.store.release(self.lane, key, token)
                return True
            current = item
            try:
                async with self.permits:
                    item = await self.handler(key, token, current)
            except (StoreUnavailable, LockLost):
                raise
            except Exception as exc:
                item = await self._failed(key, token, current, exc)
        return False

    async def _failed(self, key: str, token: str, item: bytes, exc: Exception) -> bytes | None:
        """After the handler raised on ``item``: the item to handle next (the same one while it
        has attempts left), or None when the list is empty and the lock was released."""
        log = self._log.bind(conversation_id=key)
        error = f"{type(exc).__name__}: {exc}"[:500]
        attempts = await self.store.count_failure(self.lane, key, item, FAILURE_MEMORY)
        if attempts < self.max_attempts:
            log.warning("item_failed", error=error, attempts=attempts, exc_info=exc)
            await self._pause(min(2.0, 0.1 * 2**attempts))
            return await self._current_head(key, token)
        letter = DeadLetter(
            id=uuid.uuid4().hex[:12],
            key=key,
            payload=item,
            error=error,
            attempts=attempts,
            failed_at=time.time(),
            lane=self.lane,
        )
        advance = await self.store.dead_letter(key, token, item, letter)
        if not advance.ok:  # the item is no longer the head (or the lock is gone)
            return await self._current_head(key, token)
        self.metrics.poison_items.labels(self.lane).inc()
        log.error("item_dead_lettered", letter_id=letter.id, error=error, attempts=attempts)
        return advance.next

    async def _current_head(self, key: str, token: str) -> bytes | None:
        """The list's head while we hold the conversation; None (lock released) when empty."""
        while True:
            head = await self.store.head(self.lane, key)
            if head is not None:
                return head
            released = await self.store.release_if_empty(self.lane, key, token)
            if released == "lost":
                raise LockLost(key)
            if released == "released":
                return None

    async def _renew(self, key: str, token: str) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                if not await self.store.renew(self.lane, key, token, self.lease):
                    return
            except StoreUnavailable:
                continue
