"""The turn worker: one inbound event of one conversation, from the queue to committed effects.

Load the session, decide what happens (the dialog for the bot's conversations), then commit in
one atomic step: the event leaves the inbox, the session is saved (checking the version that was
read), and the replies enter the outbox. A crash before the commit leaves the event at the head
of the inbox for the next worker; after it, nothing is done twice.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from channels.base import Capabilities, plain
from common.logging import get_logger
from common.messages import (
    AgentEvent,
    CustomerMessage,
    CustomerReply,
    DeliveryStatus,
    InboundEvent,
    OutboundMessage,
    decode_event,
    encode_outbound,
)
from dialogs.base import Dialog, Reply, SystemEvent, TurnContext
from gateway.handoff.records import record_json
from gateway.lanes import LockLost
from gateway.limits import SLOW_DOWN_TEXT, SenderLimits, Verdict
from gateway.metrics import Metrics
from gateway.options import remembered, resolve_choice
from gateway.review.record import ReviewRecorder
from gateway.sessions import (
    HandoffState,
    Session,
    TranscriptEntry,
    decode_session,
    encode_entry,
    encode_session,
)
from gateway.store import Store, StoredSession, TurnCommit

if TYPE_CHECKING:
    from gateway.handoff.desk import DeskTurn, HandoffDesk
    from gateway.handoff.records import StatsRecord

Records = list["StatsRecord"]


@dataclass(frozen=True, slots=True)
class CommittedTurn:
    """What a committed turn did, for an observer (the admin console's per-day figures)."""

    key: str
    event: InboundEvent
    before: Session | None  # None: the conversation's first turn
    after: Session
    outbound: tuple[OutboundMessage, ...]
    records: tuple[dict[str, Any], ...]  # the handoff's statistics records, as JSON objects
    understood: Mapping[str, Any] | None  # the dialog's debug (intent, confidence, knowledge)
    at: float


class TurnObserver(Protocol):
    async def observe(self, turn: CommittedTurn) -> None:
        """Called after each committed turn; it must not raise."""


FALLBACK_TEXT = "Sorry, something went wrong on our side. Please try again in a moment."
NO_AGENTS_TEXT = (
    "I'm sorry, nobody from our team can join this conversation here right now. "
    "I'm still here to help as best I can."
)
DEFAULT_HELP_TEXT = "You are talking to our assistant. Reply STOP to opt out, START to opt in."


def replies_for(event: InboundEvent, replies: list[Reply]) -> list[OutboundMessage]:
    """Outbound messages keyed by the turn: ``<event id>#<n>``."""
    return [*customer_replies(event, replies)]


def customer_replies(event: InboundEvent, replies: list[Reply]) -> list[CustomerReply]:
    """Replies to the customer keyed by the turn: ``<event id>#<n>``."""
    interaction = event.interaction_id if isinstance(event, CustomerMessage) else None
    return [
        CustomerReply(
            key=f"{event.event_id}#{n}",
            conversation=event.conversation,
            customer=event.customer,
            text=reply.text,
            buttons=reply.buttons,
            in_reply_to=event.event_id,
            interaction_id=interaction,
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
        help_text: str = DEFAULT_HELP_TEXT,
        desk: HandoffDesk | None = None,
        review: ReviewRecorder | None = None,
        limits: SenderLimits | None = None,
        capabilities: Mapping[str, Capabilities] | None = None,
        observer: TurnObserver | None = None,
    ) -> None:
        self.observer = observer
        self.capabilities = dict(capabilities or {})  # by conversation channel
        self.limits = limits
        self.desk = desk
        self.review = review
        self.help_text = help_text
        self.store = store
        self.dialog = dialog
        self.metrics = metrics
        self.session_ttl = session_ttl
        self.transcript_limit = transcript_limit

    async def handle(self, key: str, token: str, item: bytes) -> bytes | None:
        """One turn; returns the conversation's next event, or None when the commit found
        the inbox empty and released the conversation."""
        event = decode_event(item)
        stored = await self.store.load_session(key, token)
        now = time.time()
        session = decode_session(stored.data) if stored else Session(key=key, created_at=now)
        outcome = "ok"
        before = session
        records: Records = []
        understood: Mapping[str, Any] | None = None  # the dialog's debug, for the observer
        verdict: Verdict = "ok"
        try:
            if self.limits is not None:
                session, verdict = self.limits.check(session, event)
            if verdict == "ok":
                session, outbound, records, understood = await self._turn(session, event)
            else:
                outbound = self._slow_down(session, event) if verdict == "warn" else []
        except Exception:
            get_logger(conversation_id=key, channel=event.conversation.channel).exception(
                "turn_failed", event_id=event.event_id
            )
            outcome = "error"
            outbound = replies_for(event, [Reply(text=FALLBACK_TEXT)])
        expected = stored.version if stored else 0
        previous = before if stored else None
        session = session.replace(version=expected + 1, updated_at=now)
        commit = TurnCommit(
            session=StoredSession(version=session.version, data=encode_session(session)),
            expected_version=expected,
            outbound=[encode_outbound(m) for m in outbound],
            transcript=[]
            if verdict == "drop"
            else [encode_entry(e) for e in transcript_entries(event, outbound, now)],
            session_ttl=self.session_ttl,
            transcript_limit=self.transcript_limit,
            timer=self.desk.timer_change(previous, session, records) if self.desk else None,
        )
        advance = await self.store.commit_turn(key, token, item, commit)
        if not advance.ok:
            raise LockLost(key)
        if self.observer is not None:
            logged = tuple(record_json(r) for r in records)
            turn = CommittedTurn(key, event, before if stored else None, session,
                                 tuple(outbound), logged, understood, now)  # fmt: skip
            try:
                await self.observer.observe(turn)
            except Exception:  # the figures must never fail a committed turn
                get_logger(conversation_id=key).exception("turn_observer_failed")
        if self.desk is not None:
            await self.desk.after_commit(key, previous, session, records)
        if verdict != "ok":
            outcome = "rate_limited"
            self.metrics.rate_limited.labels(event.conversation.channel, verdict).inc()
        self.metrics.turns.labels(outcome).inc()
        self.metrics.turn_seconds.observe(max(0.0, time.time() - event.received_at))
        return advance.next

    async def turn(
        self, session: Session, event: InboundEvent
    ) -> tuple[Session, list[OutboundMessage]]:
        """The session after ``event`` and the messages to send."""
        session, outbound, _, _ = await self._turn(session, event)
        return session, outbound

    async def _turn(
        self, session: Session, event: InboundEvent
    ) -> tuple[Session, list[OutboundMessage], Records, Mapping[str, Any] | None]:
        """Route by ownership: the bot answers its own conversations; while queued or with an
        agent, the customer's messages go to the agents' thread (the handoff desk), never to
        the bot. The desk reads the store (transcript, card threads); the dialog does not."""
        channel = event.conversation.channel
        if not isinstance(event, AgentEvent):  # an agent's event says nothing of the customer
            session = session.seen_on(channel, event.customer.display_name)
        outbound: list[OutboundMessage] = []
        records: Records = []
        understood: Mapping[str, Any] | None = None
        desk = self.desk
        if isinstance(event, CustomerMessage) and not event.edited:
            session = session.replace(
                last_inbound={**session.last_inbound, channel: event.received_at}
            )
            message = self._resolve_typed_choice(session, event)
            rating = desk.csat_answer(session, message) if desk and session.owner == "bot" else None
            if message.control is not None:
                session, outbound = self._control(session, message)
            elif rating is not None and rating.handled:
                session, outbound, records = await self._desk(rating, message.event_id)
            elif session.owner == "bot":
                session = rating.session if rating is not None else session
                session, outbound, records, understood = await self._respond(session, message)
            elif desk is not None:
                session, outbound, records = await self._desk(
                    desk.customer_message(session, message), message.event_id
                )
        elif isinstance(event, AgentEvent) and desk is not None:
            turn = await desk.agent_event(session.key, session, event)
            session, outbound, records = await self._desk(turn, event.event_id)
        elif isinstance(event, DeliveryStatus) and desk is not None:
            turn = await desk.delivery_turn(session.key, session, event)
            session, outbound, records = await self._desk(turn, event.event_id)
        # An opted-out customer gets nothing more on that channel, whoever speaks.
        outbound = [m for m in outbound if m.conversation.channel not in session.opted_out]
        session = self._remember_options(session, outbound)
        return session, [self._with_window(session, m) for m in outbound], records, understood

    async def _desk(
        self, turn: DeskTurn, event_id: str
    ) -> tuple[Session, list[OutboundMessage], Records]:
        """A desk turn; when the bot takes over again, the dialog greets the customer back in
        context (``handoff_returned``) on the channel they last wrote on."""
        session, outbound = turn.session, list(turn.outbound)
        if not turn.returned or not turn.session.handoff:
            return session, outbound, turn.records
        conversation = turn.session.handoff.conversation
        customer = turn.session.handoff.customer
        context = TurnContext(
            channel=conversation.channel,
            customer_name=customer.display_name,
            slots=session.slots,
        )
        returned = SystemEvent(name="handoff_returned", event_id=event_id)
        outcome = await self.dialog.respond(session.dialog, returned, context)
        session = session.replace(dialog=outcome.state, slots=outcome.slots)
        outbound += [
            CustomerReply(
                key=f"{event_id}#r{n}",
                conversation=conversation,
                customer=customer,
                text=reply.text,
                buttons=reply.buttons,
                in_reply_to=event_id,
            )
            for n, reply in enumerate(outcome.replies)
        ]
        return session, outbound, turn.records

    async def _respond(
        self, session: Session, event: CustomerMessage
    ) -> tuple[Session, list[OutboundMessage], Records, Mapping[str, Any]]:
        context = TurnContext(
            channel=event.conversation.channel,
            customer_name=event.customer.display_name,
            slots=session.slots,
        )
        outcome = await self.dialog.respond(session.dialog, event, context)
        self.metrics.count_knowledge(outcome.debug)
        if self.review is not None:  # the review inbox (docs/knowledge.md)
            handed = outcome.handoff is not None
            await self.review.record(session.key, event.text or "", outcome.debug, handed)
        session = session.replace(dialog=outcome.state, slots=outcome.slots)
        if outcome.handoff is not None and self.desk is None:
            # No agents' desk (no handoff channel, or Slack off): rather than leave the customer
            # waiting for nobody, the bot stays and says so.
            get_logger(conversation_id=session.key, channel=event.conversation.channel).warning(
                "handoff_unavailable", trigger=outcome.handoff.trigger
            )
            kept = [r for r in outcome.replies if not r.handoff_notice]  # "please hold on"
            said = [*kept, Reply(text=NO_AGENTS_TEXT)]
            return session, replies_for(event, said), [], outcome.debug
        if outcome.handoff is not None and self.desk is not None:
            handoff = outcome.handoff
            requested = HandoffState(
                state="requested",
                card=f"{event.event_id}#card",
                customer=event.customer,
                conversation=event.conversation,
                trigger=handoff.trigger,
                reason=handoff.reason,
                queue=handoff.queue,
                summary=handoff.summary,
                at=event.received_at,
                debug=outcome.debug,
            )
            session = session.replace(owner="queued", handoff=requested)
            # The dialog's own announcement of the handoff becomes the desk's one notice,
            # which adds the wait estimate or the business-hours text.
            said = [r for r in outcome.replies if not r.handoff_notice]
            notice = " ".join(r.text for r in outcome.replies if r.handoff_notice)
            replies = customer_replies(event, said)
            turn = await self.desk.start(session.key, session, event, replies, notice=notice)
            return turn.session, [*replies, *turn.outbound], turn.records, outcome.debug
        return session, replies_for(event, outcome.replies), [], outcome.debug

    def _slow_down(self, session: Session, event: InboundEvent) -> list[OutboundMessage]:
        """The one reply a sender over the rate limit gets (not where they opted out)."""
        if event.conversation.channel in session.opted_out:
            return []
        said = replies_for(event, [Reply(text=SLOW_DOWN_TEXT)])
        return [self._with_window(session, m) for m in said]

    def _control(
        self, session: Session, event: CustomerMessage
    ) -> tuple[Session, list[OutboundMessage]]:
        """SMS keywords. The carrier (through Twilio) confirms STOP and START itself."""
        channel = event.conversation.channel
        if event.control == "opt_out":
            if channel not in session.opted_out:
                session = session.replace(opted_out=(*session.opted_out, channel))
            return session, []
        if event.control == "opt_in":
            opted_out = tuple(c for c in session.opted_out if c != channel)
            return session.replace(opted_out=opted_out), []
        return session, replies_for(event, [Reply(text=self.help_text)])

    @staticmethod
    def _resolve_typed_choice(session: Session, event: CustomerMessage) -> CustomerMessage:
        """A typed answer to the options last shown: "2" where they were shown numbered, or
        an option's title on any channel (case, accents and punctuation aside)."""
        channel = event.conversation.channel
        if event.button_payload:
            return event
        payload = None
        if numbered := session.offered.get(channel):
            payload = resolve_choice(event.text, numbered)
        elif shown := session.buttons.get(channel):
            payload = resolve_choice(event.text, shown, numbered=False)
        return event if payload is None else dataclasses.replace(event, button_payload=payload)

    def _remember_options(self, session: Session, outbound: list[OutboundMessage]) -> Session:
        """Keep the options each reply showed (numbered or as buttons), to read typed answers."""
        offered, buttons = dict(session.offered), dict(session.buttons)
        for message in outbound:
            if not isinstance(
                message, CustomerReply
            ):  # the agents' posts offer the customer nothing
                continue
            channel = message.conversation.channel
            options = remembered(message.buttons) if message.buttons else []
            if self._capabilities(channel).numbered_options:
                offered[channel] = options
            else:
                buttons[channel] = options
        offered = {c: o for c, o in offered.items() if o}
        buttons = {c: o for c, o in buttons.items() if o}
        if offered == session.offered and buttons == session.buttons:
            return session
        return session.replace(offered=offered, buttons=buttons)

    def _with_window(self, session: Session, message: OutboundMessage) -> OutboundMessage:
        channel = message.conversation.channel
        window = self._capabilities(channel).service_window
        last = session.last_inbound.get(channel)
        if window is None or last is None or not isinstance(message, CustomerReply):
            return message
        return dataclasses.replace(message, window_closes_at=last + window)

    def _capabilities(self, channel: str) -> Capabilities:
        return self.capabilities.get(channel) or plain(channel)


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
    elif isinstance(event, AgentEvent) and event.action != "timer":
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
        TranscriptEntry(
            at=now, direction="out", channel=m.conversation.channel, text=m.text, ref=m.key
        )
        for m in outbound
        if isinstance(m, CustomerReply)  # the agents' posts, cards and marks are not the customer's
    )
    return entries
