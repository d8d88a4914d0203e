"""In-process store (``memory://``): the embedded default for one process, e.g. ``frontdesk
chat``. Same contract and semantics as the Redis store; nothing survives a restart."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict, deque

from gateway.store.base import (
    LANES,
    Advance,
    Claim,
    DeadLetter,
    Fence,
    Lane,
    Release,
    StoredSession,
    Ticket,
    TurnCommit,
)
from gateway.store.handoff import HandoffStore
from gateway.store.memory_handoff import MemoryHandoffStore


class MemoryStore:
    def __init__(self) -> None:
        self._lists: dict[tuple[Lane, str], deque[bytes]] = defaultdict(deque)
        self._locks: dict[tuple[Lane, str], tuple[str, float]] = {}
        self._expiring: dict[str, float] = {}  # dedup claims and sent markers
        self._sessions: dict[str, tuple[StoredSession, float]] = {}
        self._transcripts: dict[str, deque[bytes]] = {}
        self._tickets: dict[Lane, asyncio.Queue[Ticket]] = {lane: asyncio.Queue() for lane in LANES}
        self._in_progress: dict[Lane, set[str]] = {lane: set() for lane in LANES}
        self._ids = itertools.count(1)
        self._dlq: dict[str, DeadLetter] = {}
        self._failures: dict[tuple[Lane, str, bytes], tuple[int, float]] = {}
        self._handoff = MemoryHandoffStore()  # its timers are written by commit_turn

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _live(self, name: str) -> bool:
        expires = self._expiring.get(name)
        if expires is None:
            return False
        if expires < time.monotonic():
            del self._expiring[name]
            return False
        return True

    # ----------------------------------------------------------------- ingest
    async def enqueue(self, key: str, event_id: str, payload: bytes, dedup_ttl: float) -> bool:
        name = f"seen:{key}:{event_id}"
        if self._live(name):
            return False
        self._expiring[name] = time.monotonic() + dedup_ttl
        self._lists["turns", key].append(payload)
        await self.post_ticket("turns", key)
        return True

    # ------------------------------------------------------------ lane tickets
    async def post_ticket(self, lane: Lane, key: str) -> None:
        self._tickets[lane].put_nowait(Ticket(id=str(next(self._ids)), key=key))

    async def next_tickets(
        self, lane: Lane, consumer: str, count: int, block: float
    ) -> list[Ticket]:
        queue = self._tickets[lane]
        try:
            # In this task, not wait_for's own (Python 3.11): a ticket taken off the queue is
            # in progress in the same step, so depth() never misses it in between.
            async with asyncio.timeout(block):
                first = await queue.get()
        except TimeoutError:
            return []
        tickets = [first]
        while len(tickets) < count and not queue.empty():
            tickets.append(queue.get_nowait())
        self._in_progress[lane].update(t.id for t in tickets)
        return tickets

    async def reclaim_tickets(
        self, lane: Lane, consumer: str, min_idle: float, count: int
    ) -> list[Ticket]:
        return []  # one process: nobody else can have died holding work

    async def ack(self, lane: Lane, *ticket_ids: str) -> None:
        self._in_progress[lane].difference_update(ticket_ids)

    # ------------------------------------------------------ conversation locks
    def _holder(self, lane: Lane, key: str) -> str | None:
        held = self._locks.get((lane, key))
        if held is None or held[1] < time.monotonic():
            return None
        return held[0]

    async def acquire(self, lane: Lane, key: str, token: str, ttl: float) -> bool:
        if self._holder(lane, key) is not None:
            return False
        self._locks[lane, key] = (token, time.monotonic() + ttl)
        return True

    async def claim(self, lane: Lane, key: str, token: str, ttl: float) -> Claim:
        items = self._lists.get((lane, key))
        if not items:
            return "empty"
        if not await self.acquire(lane, key, token, ttl):
            return "held"
        return items[0]

    async def renew(self, lane: Lane, key: str, token: str, ttl: float) -> bool:
        if self._holder(lane, key) != token:
            return False
        self._locks[lane, key] = (token, time.monotonic() + ttl)
        return True

    async def release_if_empty(self, lane: Lane, key: str, token: str) -> Release:
        if self._holder(lane, key) != token:
            return "lost"
        if self._lists.get((lane, key)):
            return "not_empty"
        del self._locks[lane, key]
        self._lists.pop((lane, key), None)
        return "released"

    async def release(self, lane: Lane, key: str, token: str) -> None:
        if self._holder(lane, key) == token:
            del self._locks[lane, key]

    async def head(self, lane: Lane, key: str) -> bytes | None:
        items = self._lists.get((lane, key))
        return items[0] if items else None

    def _pop_if(self, lane: Lane, key: str, token: str, item: bytes) -> bool:
        items = self._lists.get((lane, key))
        if self._holder(lane, key) != token or not items or items[0] != item:
            return False
        items.popleft()
        return True

    def _advance(self, lane: Lane, key: str) -> Advance:
        """After a pop: the next head, or release the lock when the list is empty."""
        items = self._lists.get((lane, key))
        if items:
            return Advance(ok=True, next=items[0])
        self._locks.pop((lane, key), None)
        self._lists.pop((lane, key), None)
        return Advance(ok=True)

    # -------------------------------------------------------------- sessions
    async def load_session(self, key: str, token: str | None = None) -> StoredSession | None:
        stored = self._sessions.get(key)
        if stored is None or stored[1] < time.monotonic():
            return None
        return stored[0]

    async def commit_turn(self, key: str, token: str, item: bytes, commit: TurnCommit) -> Advance:
        current = await self.load_session(key)
        if (current.version if current else 0) != commit.expected_version:
            return Advance(ok=False)
        if not self._pop_if("turns", key, token, item):
            return Advance(ok=False)
        self._sessions[key] = (commit.session, time.monotonic() + commit.session_ttl)
        if commit.timer is not None:  # with the session, in the same step
            self._handoff.set_timer(key, commit.timer.due, commit.timer.customer)
        if commit.outbound:
            self._lists["sends", key].extend(commit.outbound)
            await self.post_ticket("sends", key)
        transcript = self._transcripts.setdefault(key, deque(maxlen=commit.transcript_limit))
        transcript.extend(commit.transcript)
        return self._advance("turns", key)

    async def transcript(self, key: str) -> list[bytes]:
        if await self.load_session(key) is None:
            self._transcripts.pop(key, None)  # expired with its session
        return list(self._transcripts.get(key, ()))

    # ---------------------------------------------------------------- outbox
    async def fence_send(self, key: str, token: str, message_key: str, ttl: float) -> Fence:
        if self._live(f"sent:{key}:{message_key}"):
            return "sent"
        return "ok" if await self.renew("sends", key, token, ttl) else "lost"

    async def commit_sent(
        self, key: str, token: str, item: bytes, message_key: str, ttl: float
    ) -> Advance:
        self._expiring[f"sent:{key}:{message_key}"] = time.monotonic() + ttl
        if not self._pop_if("sends", key, token, item):
            return Advance(ok=False)
        return self._advance("sends", key)

    async def dead_letter(self, key: str, token: str, item: bytes, letter: DeadLetter) -> Advance:
        self._dlq[letter.id] = letter
        if not self._pop_if(letter.lane, key, token, item):
            return Advance(ok=False)
        self._failures.pop((letter.lane, key, item), None)
        return self._advance(letter.lane, key)

    async def count_failure(self, lane: Lane, key: str, item: bytes, ttl: float) -> int:
        now = time.monotonic()
        count, expires = self._failures.get((lane, key, item), (0, now))
        count = count + 1 if expires > now else 1
        self._failures[lane, key, item] = (count, now + ttl)
        return count

    async def dead_letters(self) -> list[DeadLetter]:
        return sorted(self._dlq.values(), key=lambda d: d.failed_at)

    async def append_outbound(self, key: str, items: list[bytes]) -> None:
        if items:
            self._lists["sends", key].extend(items)
            await self.post_ticket("sends", key)

    async def requeue_dead_letter(self, letter_id: str) -> DeadLetter | None:
        letter = self._dlq.pop(letter_id, None)
        if letter is not None:
            self._lists[letter.lane, letter.key].append(letter.payload)
            await self.post_ticket(letter.lane, letter.key)
        return letter

    # --------------------------------------------------------------- handoff
    def handoff_store(self, retention: float | None = None) -> HandoffStore:
        return self._handoff  # nothing outlives the process, let alone the retention

    # ----------------------------------------------------------- observation
    async def depth(self, lane: Lane) -> int:
        return self._tickets[lane].qsize() + len(self._in_progress[lane])
