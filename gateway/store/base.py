"""The store contract: everything the gateway keeps, behind one small interface.

Two implementations: Redis (``redis://``, shared by any number of gateway processes) and
in-process memory (``memory://``, the single-process embedded default). Work flows through two
*lanes* that share one mechanism:

- ``turns``: each conversation's inbox of accepted inbound events;
- ``sends``: each conversation's outbox of replies waiting to be sent.

A lane is a per-conversation list (the order), a per-conversation lock (one writer), and a
ticket queue telling workers which conversation has work. A worker takes a ticket, locks the
conversation, handles the list head by head, and releases the lock only when the list is empty,
atomically; only then is its ticket acknowledged. A process that dies leaves its ticket pending,
and another process reclaims it after an idle time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from common.errors import StoreUnavailable as StoreUnavailable
from gateway.store.handoff import HandoffStore

Lane = Literal["turns", "sends"]
LANES: tuple[Lane, ...] = ("turns", "sends")
Release = Literal["released", "not_empty", "lost"]
Claim = Literal["empty", "held"] | bytes  # nothing to do / someone else holds it / the head
Fence = Literal["ok", "sent", "lost"]


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    key: str
    reclaimed: bool = False


@dataclass(frozen=True, slots=True)
class StoredSession:
    version: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Advance:
    """After popping a conversation's head: ``ok`` False when the pop was refused (the lock is
    no longer ours, or the head is not the item); otherwise ``next`` is the new head, or None
    when the list is empty and the lock was released in the same step."""

    ok: bool
    next: bytes | None = None


@dataclass(frozen=True, slots=True)
class TimerChange:
    """A turn's change to the conversation's handoff timer: wake it up at ``due`` (the
    scheduler queues a timer event for ``customer``, JSON of a ``CustomerRef``), or, with
    ``due`` None, never again."""

    due: float | None
    customer: str = ""


@dataclass(frozen=True, slots=True)
class TurnCommit:
    session: StoredSession
    expected_version: int
    outbound: list[bytes]
    transcript: list[bytes]
    session_ttl: float
    transcript_limit: int
    timer: TimerChange | None = None  # None: the timer stays as it is


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An item taken out of its conversation's list after it failed ``attempts`` times: an
    inbound event that could not be processed (lane ``turns``) or a message that could not be
    sent (lane ``sends``)."""

    id: str
    key: str
    payload: bytes
    error: str
    attempts: int
    failed_at: float
    lane: Lane = "sends"


class Store(Protocol):
    async def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""

    async def close(self) -> None: ...

    # ----------------------------------------------------------------- ingest
    async def enqueue(self, key: str, event_id: str, payload: bytes, dedup_ttl: float) -> bool:
        """Claim ``event_id`` and append the event to the conversation's inbox, then post a
        ticket. False when the id was already claimed (a re-delivery): nothing is appended."""

    # ------------------------------------------------------------ lane tickets
    async def post_ticket(self, lane: Lane, key: str) -> None: ...

    async def next_tickets(
        self, lane: Lane, consumer: str, count: int, block: float
    ) -> list[Ticket]: ...

    async def reclaim_tickets(
        self, lane: Lane, consumer: str, min_idle: float, count: int
    ) -> list[Ticket]:
        """Tickets that another consumer took and did not acknowledge for ``min_idle`` s."""

    async def ack(self, lane: Lane, *ticket_ids: str) -> None:
        """Acknowledge (and forget) finished tickets, in one step."""

    # ------------------------------------------------------ conversation locks
    async def acquire(self, lane: Lane, key: str, token: str, ttl: float) -> bool: ...

    async def claim(self, lane: Lane, key: str, token: str, ttl: float) -> Claim:
        """In one step: "empty" when the conversation's list is empty (nothing locked),
        "held" when another holder has the lock, else lock it and return the head."""

    async def renew(self, lane: Lane, key: str, token: str, ttl: float) -> bool: ...

    async def release_if_empty(self, lane: Lane, key: str, token: str) -> Release:
        """Release the lock iff it is ours and the lane's list is empty, atomically."""

    async def release(self, lane: Lane, key: str, token: str) -> None: ...

    async def head(self, lane: Lane, key: str) -> bytes | None:
        """The oldest item of the conversation's list for ``lane``."""

    # -------------------------------------------------------------- sessions
    async def load_session(self, key: str, token: str | None = None) -> StoredSession | None:
        """The conversation's session. ``token``: the caller holds the conversation's turns
        lock with it (a store may then answer from what its claim or commit already saw)."""

    async def commit_turn(self, key: str, token: str, item: bytes, commit: TurnCommit) -> Advance:
        """Atomically: check the lock is ours, the inbox head is ``item`` and the stored
        session is still at ``commit.expected_version``; pop the head, save the session, append
        the transcript entries (keeping the newest ``transcript_limit``) and the outbound
        messages, apply ``commit.timer`` to the handoff schedule, and release the lock if the
        inbox is now empty. When outbound messages were appended, a ``sends`` ticket is posted
        too. Not ok (and nothing changed) if a check fails."""

    async def transcript(self, key: str) -> list[bytes]:
        """The conversation's transcript entries, oldest first."""

    # ---------------------------------------------------------------- outbox
    async def fence_send(self, key: str, token: str, message_key: str, ttl: float) -> Fence:
        """Before a send attempt: "sent" if ``message_key`` already went out, "lost" if the
        outbox lock is no longer ours, else "ok" (and the lock is renewed for ``ttl``)."""

    async def commit_sent(
        self, key: str, token: str, item: bytes, message_key: str, ttl: float
    ) -> Advance:
        """Remember that ``message_key`` went out (always), then pop the outbox head ``item``
        if the lock is still ours (releasing it when the outbox is then empty)."""

    async def dead_letter(self, key: str, token: str, item: bytes, letter: DeadLetter) -> Advance:
        """Keep ``letter`` in the dead-letter queue and pop the head ``item`` of its lane's
        list (as commit_sent, without recording a send), atomically."""

    async def count_failure(self, lane: Lane, key: str, item: bytes, ttl: float) -> int:
        """Count one more failed attempt at ``item`` (the head of the conversation's list for
        ``lane``) and return how many there were; the count is shared by every process and
        forgotten ``ttl`` seconds after the last failure."""

    async def dead_letters(self) -> list[DeadLetter]: ...

    async def append_outbound(self, key: str, items: list[bytes]) -> None:
        """Append messages to the end of the conversation's outbox and post a ticket (for a
        send's follow-ups, e.g. a delivery mark after a relayed reply)."""

    async def requeue_dead_letter(self, letter_id: str) -> DeadLetter | None:
        """Put a dead letter back at the end of its conversation's list (inbox or outbox)."""

    # --------------------------------------------------------------- handoff
    def handoff_store(self, retention: float | None = None) -> HandoffStore:
        """The handoff's store on the same backend (its timer schedule is the one
        ``commit_turn`` writes); what it keeps about a customer expires within
        ``retention`` seconds when given."""
        ...

    # ----------------------------------------------------------- observation
    async def depth(self, lane: Lane) -> int:
        """Tickets waiting or in progress for ``lane`` (for the queue-depth gauge)."""
