"""What a desk turn produces (pure): the turn's result, its message keys, and the messages
themselves, addressed to the customer or to the agents' channel (card, card update, thread
post, ephemeral, reaction).

Replies to the customer are ``CustomerReply``s; the agents' side gets desk operations
(``DeskCard``, ``DeskUpdate``, ``DeskPost``, ``DeskEphemeral``, ``DeskReaction``). A post in the
card's thread names its card by key (``anchor``); the outbox fills in the card's Slack ``ts``
once the card is posted (see ``gateway.handoff.relay``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from common.messages import (
    AgentEvent,
    Button,
    ConversationRef,
    CustomerReply,
    DeskCard,
    DeskEphemeral,
    DeskPost,
    DeskReaction,
    DeskUpdate,
    OutboundMessage,
)
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

    def _where(self, thread: str | None = None) -> ConversationRef:
        return ConversationRef(channel=SLACK, chat_id=self.channel, thread_id=thread)

    def thread(
        self,
        key: str,
        state: HandoffState,
        text: str,
        *,
        buttons: tuple[Button, ...] = (),
        broadcast: bool = False,
        mention: str | None = None,
    ) -> DeskPost:
        """A post in the handoff card's thread."""
        return DeskPost(
            key=key,
            conversation=self._where(),
            customer=state.customer,
            text=text,
            buttons=buttons,
            anchor=state.card,
            broadcast=broadcast,
            mention=mention,
            max_attempts=self.settings.relay_attempts,
        )

    def card(
        self, key: str, session: Session, state: HandoffState, now: float
    ) -> DeskCard | DeskUpdate:
        """The card itself when ``key`` is the card's key, else an update of it."""
        card = cards.build_card(
            session, state, now, self.hours.zone, self.labels, self.hours_note(state, now)
        )
        attempts = self.settings.relay_attempts
        if key == state.card:
            return DeskCard(
                key=key,
                conversation=self._where(),
                customer=state.customer,
                card=card,
                max_attempts=attempts,
            )
        return DeskUpdate(
            key=key,
            conversation=self._where(),
            customer=state.customer,
            card=card,
            anchor=state.card,
            max_attempts=attempts,
        )

    def hours_note(self, state: HandoffState, now: float) -> str:
        if not state.open or self.hours.is_open(now):
            return ""
        back = self.hours.next_open(now)
        when = self.hours.describe(back) if back else "later"
        return f"Outside business hours: the customer was told we are back {when}."

    def to_customer(self, key: str, state: HandoffState, text: str, **extra: Any) -> CustomerReply:
        return CustomerReply(
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
    ) -> DeskEphemeral:
        """A post only the agent of ``event`` sees: in the card's thread, or in ``thread`` (an
        older card's, where the agent wrote)."""
        return DeskEphemeral(
            key=key,
            conversation=self._where(thread),
            customer=state.customer,
            text=text,
            recipient=event.agent_id,
            anchor=None if thread is not None else state.card,
            max_attempts=2,
        )

    def agent_names(self, event: AgentEvent) -> tuple[str, str]:
        """(name agents see, name the customer sees)."""
        configured = self.settings.agents.get(event.agent_id)
        internal = configured or event.agent_name or event.agent_id
        return internal, configured or self.settings.default_agent_name

    # ---------------------------------------------------------------- delivery

    def _mark(self, key: str, state: HandoffState, emoji: str, agent_ts: str) -> DeskReaction:
        return DeskReaction(
            key=key,
            conversation=self._where(),
            customer=state.customer,
            reaction=emoji,
            target=agent_ts,
            max_attempts=self.settings.relay_attempts,
        )

    def sent_mark(self, key: str, state: HandoffState, agent_ts: str) -> DeskReaction:
        return self._mark(key, state, SENT, agent_ts)

    def delivered_mark(self, key: str, state: HandoffState, agent_ts: str) -> DeskReaction:
        return self._mark(key, state, DELIVERED, agent_ts)

    def failure_posts(
        self, keys: Callable[[], str], state: HandoffState, agent_ts: str, error: str | None
    ) -> list[OutboundMessage]:
        channel = self.label(state.conversation.channel)
        text = f"Not delivered to the customer on {channel}: {error or 'no reason given'}."
        return [self._mark(keys(), state, FAILED, agent_ts), self.thread(keys(), state, text)]
