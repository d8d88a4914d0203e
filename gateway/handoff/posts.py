"""What a desk turn produces (pure): the turn's result, its message keys, and the messages
themselves, addressed to the customer or to the agents' channel (card, card update, thread
post, ephemeral, reaction).

A post in the card's thread names its card by key (``anchor``); the outbox fills in the card's
Slack ``ts`` once the card is posted (see ``gateway.handoff.relay``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from common.messages import AgentEvent, ConversationRef, OutboundMessage, Purpose
from gateway.handoff import card as cards
from gateway.handoff.hours import BusinessHours
from gateway.handoff.records import StatsRecord
from gateway.handoff.state import HandoffState
from gateway.sessions import Session
from gateway.settings import HandoffSettings

SLACK = "slack"
DELIVERED = "white_check_mark"
SENT = "heavy_check_mark"
FAILED = "x"


@dataclass(frozen=True, slots=True)
class DeskTurn:
    session: Session
    outbound: list[OutboundMessage] = field(default_factory=list)
    records: list[StatsRecord] = field(default_factory=list)
    returned: bool = False  # the bot takes over: the worker runs ``handoff_returned``
    handled: bool = True  # False: the customer's message still goes to the bot


class Keys:
    """Message keys of one turn: ``<event id>#h<n>`` (the dialog's are ``#<n>``)."""

    def __init__(self, event_id: str) -> None:
        self.event_id = event_id
        self._n = itertools.count()

    def __call__(self) -> str:
        return f"{self.event_id}#h{next(self._n)}"


class Posts:
    """Builds the desk's outbound messages for one agents' channel."""

    def __init__(
        self, settings: HandoffSettings, hours: BusinessHours, labels: Mapping[str, str]
    ) -> None:
        self.settings = settings
        self.channel = settings.slack_channel
        self.hours = hours
        self.labels = dict(labels)  # conversation channel -> what agents read ("SMS")

    def label(self, channel: str) -> str:
        return self.labels.get(channel, channel)

    def slack(
        self,
        key: str,
        state: HandoffState,
        purpose: Purpose,
        text: str = "",
        **extra: Any,
    ) -> OutboundMessage:
        anchor = None if purpose in ("card", "reaction") else state.card
        if "thread_id" in extra:  # an explicit thread (a stale card's): no anchor
            anchor = None
        thread = extra.pop("thread_id", None)
        attempts = extra.pop("max_attempts", self.settings.relay_attempts)
        return OutboundMessage(
            key=key,
            conversation=ConversationRef(channel=SLACK, chat_id=self.channel, thread_id=thread),
            customer=state.customer,
            text=text,
            purpose=purpose,
            anchor=anchor,
            max_attempts=attempts,
            **extra,
        )

    def card(self, key: str, session: Session, state: HandoffState, now: float) -> OutboundMessage:
        """The card itself when ``key`` is the card's key, else an update of it."""
        card = cards.build_card(
            session, state, now, self.hours.zone, self.labels, self.hours_note(state, now)
        )
        if key == state.card:
            return self.slack(key, state, "card", card.title, card=card)
        return self.slack(key, state, "card_update", card.title, card=card)

    def hours_note(self, state: HandoffState, now: float) -> str:
        if not state.open or self.hours.is_open(now):
            return ""
        back = self.hours.next_open(now)
        when = self.hours.describe(back) if back else "later"
        return f"Outside business hours: the customer was told we are back {when}."

    def to_customer(
        self, key: str, state: HandoffState, text: str, **extra: Any
    ) -> OutboundMessage:
        return OutboundMessage(
            key=key,
            conversation=state.conversation,
            customer=state.customer,
            text=text,
            **extra,
        )

    def ephemeral(
        self,
        key: str,
        state: HandoffState,
        event: AgentEvent,
        text: str,
        thread: str | None = None,
    ) -> OutboundMessage:
        extra: dict[str, Any] = {"recipient": event.agent_id, "max_attempts": 2}
        if thread is not None:
            extra["thread_id"] = thread
        return self.slack(key, state, "ephemeral", text, **extra)

    def agent_names(self, event: AgentEvent) -> tuple[str, str]:
        """(name agents see, name the customer sees)."""
        configured = self.settings.agents.get(event.agent_id)
        internal = configured or event.agent_name or event.agent_id
        return internal, configured or self.settings.default_agent_name

    # ---------------------------------------------------------------- delivery

    def sent_mark(self, key: str, state: HandoffState, agent_ts: str) -> OutboundMessage:
        return self.slack(key, state, "reaction", reaction=SENT, target=agent_ts)

    def delivered_mark(self, key: str, state: HandoffState, agent_ts: str) -> OutboundMessage:
        return self.slack(key, state, "reaction", reaction=DELIVERED, target=agent_ts)

    def failure_posts(
        self, keys: Callable[[], str], state: HandoffState, agent_ts: str, error: str | None
    ) -> list[OutboundMessage]:
        channel = self.label(state.conversation.channel)
        text = f"Not delivered to the customer on {channel}: {error or 'no reason given'}."
        return [
            self.slack(keys(), state, "reaction", reaction=FAILED, target=agent_ts),
            self.slack(keys(), state, "thread", text),
        ]
