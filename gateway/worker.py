"""The turn worker: one inbound event of one conversation, from the queue to committed effects.

Load the session, decide what happens (the dialog for the bot's conversations), then commit in
one atomic step: the event leaves the inbox, the session is saved (checking the version that was
read), and the replies enter the outbox. A crash before the commit leaves the event at the head
of the inbox for the next worker; after it, nothing is done twice.
"""

from __future__ import annotations

import time

from dialogs.base import Dialog, Reply
from gateway.lanes import LockLost
from gateway.logging import get_logger
from gateway.messages import (
    AgentEvent,
    CustomerMessage,
    DeliveryStatus,
    InboundEvent,
    OutboundMessage,
    decode_event,
    encode_outbound,
)
from gateway.metrics import Metrics
from gateway.sessions import (
    Session,
    TranscriptEntry,
    decode_session,
    encode_entry,
    encode_session,
)
from gateway.store import Store, StoredSession, TurnCommit

FALLBACK_TEXT = "Sorry, something went wrong on our side. Please try again in a moment."


def replies_for(event: InboundEvent, replies: list[Reply]) -> list[OutboundMessage]:
    """Outbound messages keyed by the turn: ``<event id>#<n>``."""
    return [
        OutboundMessage(
            key=f"{event.event_id}#{n}",
            conversation=event.conversation,
            customer=event.customer,
            text=reply.text,
            buttons=reply.buttons,
            in_reply_to=event.event_id,
        )
        for n, reply in enumerate(replies)
    ]


class TurnWorker:
    def __init__(
        self,
        *,
        store: Store,
        dialog: Dialog,
        metrics: Metrics,
        session_ttl: float,
        transcript_limit: int,
    ) -> None:
        self.store = store
        self.dialog = dialog
        self.metrics = metrics
        self.session_ttl = session_ttl
        self.transcript_limit = transcript_limit

    async def handle(self, key: str, token: str, item: bytes) -> None:
        event = decode_event(item)
        stored = await self.store.load_session(key)
        now = time.time()
        session = decode_session(stored.data) if stored else Session(key=key, created_at=now)
        outcome = "ok"
        try:
            session, outbound = self.turn(session, event)
        except Exception:
            get_logger(conversation_id=key, channel=event.conversation.channel).exception(
                "turn_failed", event_id=event.event_id
            )
            outcome = "error"
            outbound = replies_for(event, [Reply(text=FALLBACK_TEXT)])
        expected = stored.version if stored else 0
        session = session.replace(version=expected + 1, updated_at=now)
        commit = TurnCommit(
            session=StoredSession(version=session.version, data=encode_session(session)),
            expected_version=expected,
            outbound=[encode_outbound(m) for m in outbound],
            transcript=[encode_entry(e) for e in transcript_entries(event, outbound, now)],
            session_ttl=self.session_ttl,
            transcript_limit=self.transcript_limit,
        )
        if not await self.store.commit_turn(key, token, item, commit):
            raise LockLost(key)
        if outbound:
            await self.store.post_ticket("sends", key)
        self.metrics.turns.labels(outcome).inc()
        self.metrics.turn_seconds.observe(max(0.0, time.time() - event.received_at))

    def turn(self, session: Session, event: InboundEvent) -> tuple[Session, list[OutboundMessage]]:
        """Pure: the session after ``event`` and the messages to send."""
        session = session.seen_on(event.conversation.channel, event.customer.display_name)
        if isinstance(event, CustomerMessage) and not event.edited and session.owner == "bot":
            state, replies = self.dialog.step(session.dialog, event)
            return session.replace(dialog=state), replies_for(event, replies)
        return session, []


def transcript_entries(
    event: InboundEvent, outbound: list[OutboundMessage], now: float
) -> list[TranscriptEntry]:
    """What a turn adds to the transcript: the event, then what was said back."""
    channel = event.conversation.channel
    entries: list[TranscriptEntry] = []
    if isinstance(event, CustomerMessage):
        pressed = f"[button] {event.button_payload}" if event.button_payload else ""
        media = [f"[{a.kind}] {a.url}" for a in event.attachments]
        entries.append(
            TranscriptEntry(
                at=event.received_at,
                direction="in",
                channel=channel,
                text=" ".join(filter(None, [event.text or pressed, *media])),
                ref=event.event_id,
                status="edited" if event.edited else None,
            )
        )
    elif isinstance(event, DeliveryStatus):
        detail = f"delivery {event.status}" + (f": {event.error}" if event.error else "")
        entries.append(
            TranscriptEntry(
                at=event.received_at,
                direction="event",
                channel=channel,
                text=detail,
                ref=event.platform_message_id,
                status=event.status,
            )
        )
    elif isinstance(event, AgentEvent):
        entries.append(
            TranscriptEntry(
                at=event.received_at,
                direction="agent",
                channel=channel,
                text=f"[{event.action}] {event.text}".strip(),
                ref=event.event_id,
            )
        )
    entries.extend(
        TranscriptEntry(at=now, direction="out", channel=channel, text=m.text, ref=m.key)
        for m in outbound
    )
    return entries
