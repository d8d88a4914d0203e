"""The handoff desk: what each event does to a handed-off conversation, in the customer's lane.

The worker asks the desk whenever a conversation is not the bot's alone: a handoff starts, the
customer writes while queued or with an agent, an agent acts in the card's thread, a relayed
reply's delivery is reported, the scheduler wakes the conversation up, or the customer answers
the satisfaction question. The desk returns the session after the event, the messages to send
(to the customer, and posts, updates, reactions and ephemerals in the agents' Slack channel),
statistics records to write once the turn is committed, and whether the bot takes over again.
Because every agent event is a turn of the customer's conversation, claiming is atomic: the
second of two simultaneous claims sees the first one's owner.

Its parts: ``posts`` builds the messages, ``timers`` decides wake-ups, ``bookkeeping`` records
a committed turn, ``media`` signs the URLs of the files agents share.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping

from channels.base import Capabilities
from common.messages import (
    AgentEvent,
    Button,
    CustomerMessage,
    CustomerReply,
    DeliveryStatus,
    OutboundMessage,
)
from gateway.handoff import card as cards
from gateway.handoff.bookkeeping import Bookkeeping
from gateway.handoff.hours import BusinessHours
from gateway.handoff.media import MediaSigner
from gateway.handoff.posts import DeskTurn, Keys, Posts
from gateway.handoff.records import Claimed, Closed, FirstReply, HandedOff, Rated, StatsRecord
from gateway.handoff.state import HandoffOutcome, HandoffState, handoff_of, with_handoff
from gateway.handoff.stats import Stats
from gateway.handoff.store import HandoffStore
from gateway.handoff.suggest import suggested_answer, suggestions_post, teach
from gateway.handoff.timers import Timers
from gateway.sessions import Session, decode_entry
from gateway.settings import HandoffSettings
from gateway.store import Store, TimerChange

CSAT_PREFIX = "csat:"


class HandoffDesk:
    def __init__(
        self,
        *,
        settings: HandoffSettings,
        store: Store,
        hstore: HandoffStore,
        stats: Stats,
        media: MediaSigner | None = None,
        retention: float | None = None,
        capabilities: Mapping[str, Capabilities] | None = None,
    ) -> None:
        self.capabilities = dict(capabilities or {})  # by conversation channel
        self.retention = retention  # store.transcript_retention, for what the desk keeps
        self.stats = stats
        self.settings = settings
        self.channel = settings.slack_channel
        self.store = store
        self.hstore = hstore
        self.media = media  # None: agents' files keep their Slack URL
        self.hours = BusinessHours.from_settings(settings.business_hours)
        labels = {name: c.label for name, c in self.capabilities.items()}
        self.posts = Posts(settings, self.hours, labels)
        self.timers = Timers(settings, self.hours, self.posts)
        self.bookkeeping = Bookkeeping(
            settings=settings, hstore=hstore, stats=stats, timers=self.timers
        )

    # ------------------------------------------------------------------ start

    async def start(
        self,
        key: str,
        session: Session,
        event: CustomerMessage,
        replies: list[CustomerReply],
        *,
        notice: str = "",
    ) -> DeskTurn:
        """The dialog handed off: ``session.handoff`` is the requested handoff; ``notice`` is
        the dialog's own announcement of it, which opens the customer's one notice."""
        requested = session.handoff
        if requested is None:
            raise ValueError("start() needs the session's requested handoff")
        now = event.received_at
        keys = Keys(event.event_id)
        state = requested.replace(
            state="queued",
            customer=event.customer,
            conversation=event.conversation,
            at=now,
            after_hours=not self.hours.is_open(now),
            last_customer_at=now,
            announced_at=now,
        )
        session = with_handoff(session.replace(owner="queued", agent=None), state)
        notice = await self._queued_notice(state, now, notice)
        history = [decode_entry(e) for e in await self.store.transcript(key)]
        lines = cards.transcript_text(history, cards.customer_name(session, state), self.hours.zone)
        current = [f"{cards.customer_name(session, state)}: {event.text}".strip()]
        current += [f"Bot: {r.text}" for r in replies if r.text] + [f"Bot: {notice}"]
        outbound: list[OutboundMessage] = [
            self.posts.to_customer(keys(), state, notice),
            self.posts.card(state.card, session, state, now),
            self.posts.thread(keys(), state, lines + "\n" + "\n".join(current)),
        ]
        if (suggested := suggestions_post(self.posts, keys(), state)) is not None:
            outbound.append(suggested)  # under the transcript
        record = HandedOff(
            at=now, trigger=state.trigger, queue=state.queue_name, after_hours=state.after_hours
        )
        return DeskTurn(session, outbound, [record])

    async def _queued_notice(self, state: HandoffState, now: float, opening: str = "") -> str:
        """The customer's one notice: the dialog's announcement (or ours), then when a person
        will answer: the business hours when closed, else the queue's wait estimate."""
        if state.after_hours:  # the dialog's "someone will be with you shortly" would be wrong
            back = self.hours.next_open(now)
            when = f"back {self.hours.describe(back)}" if back else "not available right now"
            return (
                "I'm handing you over to our team. We're closed at the moment and "
                f"{when}; a person will answer you then. You can keep writing here."
            )
        pickups = await self.hstore.pickups(state.queue_name)
        if opening:  # it already says someone will come: only a real estimate adds to it
            wait = f" {expected_wait(pickups)}" if pickups else ""
            return f"{opening}{wait} You can keep writing here in the meantime."
        return (
            f"I'm handing you over to a person from our team. {expected_wait(pickups)} "
            "You can keep writing here in the meantime."
        )

    # ------------------------------------------------------------- customer side

    def customer_message(self, session: Session, event: CustomerMessage) -> DeskTurn:
        """The customer wrote while queued or with an agent: into the card's thread."""
        state = handoff_of(session)
        if state is None or not state.open:
            return DeskTurn(session)
        keys = Keys(event.event_id)
        switched = event.conversation.channel != state.conversation.channel
        state = state.replace(
            customer=event.customer,
            conversation=event.conversation,
            last_customer_at=event.received_at,
        )
        name = cards.customer_name(session, state)
        label = self.posts.label(event.conversation.channel)
        via = f" (now on {label})" if switched else ""
        body = event.text or (f"[button] {event.button_payload}" if event.button_payload else "")
        if event.location is not None:
            loc = event.location
            body += f"\n[location] https://maps.google.com/?q={loc.latitude},{loc.longitude}"
        lines = [f"*{name}*{via}: {body}".rstrip(), *cards.attachment_lines(event.attachments)]
        post = self.posts.thread(keys(), state, "\n".join(lines))
        return DeskTurn(with_handoff(session, state), [post])

    def csat_answer(self, session: Session, event: CustomerMessage) -> DeskTurn | None:
        """The customer's answer to the rating question (or None: not an answer, and the
        question is dropped: the message goes to the bot)."""
        state = handoff_of(session)
        if state is None or state.state != "csat":
            return None
        payload = event.button_payload or ""
        score = payload.removeprefix(CSAT_PREFIX) if payload.startswith(CSAT_PREFIX) else ""
        if not score.isdigit() or not 1 <= int(score) <= 5:
            return DeskTurn(with_handoff(session, state.replace(state="closed")), handled=False)
        keys = Keys(event.event_id)
        state = state.replace(state="closed", csat=int(score))
        outbound: list[OutboundMessage] = [
            self.posts.to_customer(keys(), state, self.settings.csat.thanks),
            self.posts.thread(keys(), state, f"The customer rated the help {score}/5."),
        ]
        record = Rated(at=event.received_at, score=int(score), agent=state.closed_by)
        return DeskTurn(with_handoff(session, state), outbound, [record], returned=True)

    # ------------------------------------------------------------------ agents

    async def agent_event(self, key: str, session: Session, event: AgentEvent) -> DeskTurn:
        state = handoff_of(session)
        now = event.received_at
        keys = Keys(event.event_id)
        if event.action == "timer":
            return self._timer(session, state, keys, now) if state else DeskTurn(session)
        if event.action == "teach" and state is not None and await self._current(key, state, event):
            return await teach(self, key, session, state, event, keys)
        if state is None or not state.open or not await self._current(key, state, event):
            if state is None or event.action not in ("reply", "claim", "resolve", "return_to_bot"):
                return DeskTurn(session)
            thread = event.conversation.thread_id
            text = "This handoff is closed; nothing was sent to the customer."
            return DeskTurn(session, [self.posts.ephemeral(keys(), state, event, text, thread)])
        name, _ = self.posts.agent_names(event)
        if event.action == "claim":
            return self._claim(session, state, event, keys, now)
        if event.action in ("reply", "note"):
            return self._reply(session, state, event, keys, now)
        if event.action == "suggest":  # a suggested answer: sent as the agent's reply
            answer = suggested_answer(state, event.text)
            if answer is None:
                return DeskTurn(session)
            reply = dataclasses.replace(event, action="reply", text=answer, message_ts=None)
            return self._reply(session, state, reply, keys, now)
        if state.state == "agent" and state.agent_id != event.agent_id:
            text = f"{state.agent_name} owns this conversation; only they can close it."
            return DeskTurn(session, [self.posts.ephemeral(keys(), state, event, text)])
        outcome: HandoffOutcome = "resolved" if event.action == "resolve" else "returned"
        return self._close(session, state, keys, now, outcome, by=name)

    async def _current(self, key: str, state: HandoffState, event: AgentEvent) -> bool:
        """Whether the event comes from the current handoff's thread (not an older card's)."""
        thread = event.conversation.thread_id
        return thread is None or thread == await self.hstore.card_ts(key, state.card)

    def _claim(
        self, session: Session, state: HandoffState, event: AgentEvent, keys: Keys, now: float
    ) -> DeskTurn:
        if state.state == "agent":
            text = (
                "You already own this conversation."
                if state.agent_id == event.agent_id
                else f"{state.agent_name} already claimed this conversation."
            )
            return DeskTurn(session, [self.posts.ephemeral(keys(), state, event, text)])
        name, public = self.posts.agent_names(event)
        state = state.replace(
            state="agent", agent_id=event.agent_id, agent_name=name, claimed_at=now
        )
        session = with_handoff(session.replace(owner="agent", agent=name), state)
        outbound: list[OutboundMessage] = [
            self.posts.card(keys(), session, state, now),
            self.posts.thread(keys(), state, f"{name} claimed this conversation."),
            self.posts.to_customer(keys(), state, f"You're now talking with {public}."),
        ]
        record = Claimed(at=now, seconds=now - state.at, queue=state.queue_name, agent=name)
        return DeskTurn(session, outbound, [record])

    def _reply(
        self, session: Session, state: HandoffState, event: AgentEvent, keys: Keys, now: float
    ) -> DeskTurn:
        prefix = self.settings.note_prefix
        if event.action == "note" or (prefix and event.text.lstrip().startswith(prefix)):
            return DeskTurn(session)  # internal: stays in the thread
        if state.state != "agent":
            text = (
                "Nobody has claimed this conversation yet: press Claim (or write !claim) and "
                f"send your reply again. Nothing was sent. Start a message with {prefix} for "
                "an internal note."
            )
            return DeskTurn(session, [self.posts.ephemeral(keys(), state, event, text)])
        if state.agent_id != event.agent_id:
            text = (
                f"{state.agent_name} owns this conversation, so your reply was not sent to the "
                f"customer. Start it with {prefix} to leave an internal note."
            )
            return DeskTurn(session, [self.posts.ephemeral(keys(), state, event, text)])
        _, public = self.posts.agent_names(event)
        files = event.attachments
        if self.media is not None:  # Slack's file URLs need our token: our signed URLs instead
            files = self.media.attachments(files, now)
        relay = self.posts.to_customer(
            keys(),
            state,
            f"{public}: {event.text}" if event.text else "",
            attachments=files,
            relay_of=event.message_ts,
            max_attempts=self.settings.relay_attempts,
        )
        outbound: list[OutboundMessage] = [relay]
        records: list[StatsRecord] = []
        if state.first_reply_at is None:
            records.append(FirstReply(at=now, seconds=now - state.at))
        channel = state.conversation.channel
        last = session.last_inbound.get(channel)
        window = self.capabilities[channel].service_window if channel in self.capabilities else None
        if window is not None and last is not None and now >= last + window:
            outbound.append(
                self.posts.thread(
                    keys(),
                    state,
                    "WhatsApp's 24-hour window is closed (the customer last wrote over a day "
                    "ago): your text cannot be delivered; the customer gets the re-engagement "
                    "template, if one is configured, and your conversation continues when "
                    "they answer.",
                )
            )
        state = state.replace(first_reply_at=state.first_reply_at or now, last_agent_at=now)
        return DeskTurn(with_handoff(session, state), outbound, records)

    def _close(
        self,
        session: Session,
        state: HandoffState,
        keys: Keys,
        now: float,
        outcome: HandoffOutcome,
        by: str | None,
    ) -> DeskTurn:
        csat = outcome == "resolved" and self.settings.csat.enabled
        state = state.replace(
            state="csat" if csat else "closed", outcome=outcome, closed_at=now, closed_by=by
        )
        session = with_handoff(session.replace(owner="bot", agent=None), state)
        notes = {
            "resolved": f"Resolved by {by}. The bot takes over again.",
            "returned": f"{by} returned the conversation to the bot.",
            "abandoned": (
                f"Closed automatically: the customer has not written for "
                f"{cards.duration(now - state.last_activity)}. The bot answers them next time."
            ),
        }
        teach_button = (Button(title="Teach the bot", payload="handoff:teach"),)
        outbound: list[OutboundMessage] = [
            self.posts.card(keys(), session, state, now),
            self.posts.thread(keys(), state, notes[outcome],
                              buttons=teach_button if outcome == "resolved" else ()),
        ]  # fmt: skip
        if csat:
            buttons = tuple(Button(title=str(n), payload=f"{CSAT_PREFIX}{n}") for n in range(1, 6))
            outbound.append(
                self.posts.to_customer(keys(), state, self.settings.csat.question, buttons=buttons)
            )
        record = Closed(
            at=now,
            outcome=outcome,
            seconds=now - state.at,
            queue=state.queue_name,
            agent=state.agent_name,
        )
        return DeskTurn(
            session,
            outbound,
            [record],
            returned=outcome == "returned" or (outcome == "resolved" and not csat),
        )

    # ------------------------------------------------------------------ timers

    def next_due(self, state: HandoffState) -> float:
        """When the scheduler should wake the conversation up next."""
        return self.timers.next_due(state)

    def _timer(self, session: Session, state: HandoffState, keys: Keys, now: float) -> DeskTurn:
        if not state.open:
            return DeskTurn(session)
        if self.timers.abandoned(state, now):
            return self._close(session, state, keys, now, "abandoned", by=None)
        return self.timers.reannounce(session, state, keys, now)

    # ---------------------------------------------------------------- delivery

    def delivery(self, session: Session, event: DeliveryStatus, agent_ts: str) -> DeskTurn:
        """A relayed reply's delivery report: mark the agent's message in the thread."""
        state = handoff_of(session)
        if state is None:
            return DeskTurn(session)
        keys = Keys(event.event_id)
        if event.status in ("delivered", "read"):
            return DeskTurn(session, [self.posts.delivered_mark(keys(), state, agent_ts)])
        if event.status in ("failed", "undelivered"):
            return DeskTurn(session, self.posts.failure_posts(keys, state, agent_ts, event.error))
        return DeskTurn(session)

    async def delivery_turn(self, key: str, session: Session, event: DeliveryStatus) -> DeskTurn:
        agent_ts = await self.hstore.relay(key, event.platform_message_id)
        if agent_ts is None:
            return DeskTurn(session)
        return self.delivery(session, event, agent_ts)

    # ------------------------------------------------------------ after commit

    def timer_change(
        self, before: Session | None, after: Session, records: list[StatsRecord]
    ) -> TimerChange | None:
        """The turn's change to the conversation's timer, committed with the turn."""
        return self.bookkeeping.timer_change(before, after, records)

    async def after_commit(
        self, key: str, before: Session | None, after: Session, records: list[StatsRecord]
    ) -> None:
        """Statistics and the pickup samples, once the turn is committed (a turn re-run after
        a crash did not commit, so nothing is counted twice)."""
        await self.bookkeeping.after_commit(key, before, after, records)


def expected_wait(pickups: list[float]) -> str:
    """The customer's estimate, from the queue's recent times to claim."""
    if not pickups:
        return "Someone will be with you as soon as possible."
    minutes = math.ceil(statistics.median(pickups) / 60)
    if minutes <= 1:
        return "Someone usually answers within a minute or two."
    return f"Someone usually answers within about {minutes} minutes."


__all__ = ["CSAT_PREFIX", "DeskTurn", "HandoffDesk", "expected_wait"]
