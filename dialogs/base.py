"""The contract between the gateway's worker and a dialog.

The worker hands the dialog the conversation's dialog state, the event and some context, and
gets back the next state, what to say, and whether to hand the conversation to a human. How a
dialog decides (rules, NLU, YAML flows) is its own business; the engine at its core is pure
(``step(state, event, parse) -> (state, actions)``) and a runner carries out its I/O actions
(NLU parsing, HTTP calls to the business's backend) before answering the worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from common.messages import Button, CustomerMessage


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = ()
    # The dialog's announcement that a person takes over ("please hold on"): where the gateway
    # has an agents' desk, the desk's one notice says it, with the wait estimate or the
    # business hours; without one, the gateway says that nobody can join instead.
    handoff_notice: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Handoff:
    """The bot should not go on: a person takes over."""

    trigger: str  # keyword, sentiment, sensitive_intent, fallback, slot_condition, flow, …
    reason: str  # readable, for the agent's card
    queue: str | None = None
    summary: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemEvent:
    """Something happened that the customer did not write: ``handoff_returned`` (an agent
    resolved the handoff and the bot takes over again)."""

    name: Literal["handoff_returned"]
    event_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnContext:
    channel: str
    customer_name: str | None = None
    slots: Mapping[str, Any] = field(default_factory=dict)  # the session's slots


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    state: dict[str, Any]
    replies: list[Reply]
    slots: dict[str, Any] = field(default_factory=dict)  # the session's slots after the turn
    handoff: Handoff | None = None
    # Why the bot did what it did, for `frontdesk chat` and logs: intent, confidence,
    # entities, flow, step.
    debug: dict[str, Any] = field(default_factory=dict)


class Dialog(Protocol):
    async def respond(
        self,
        state: Mapping[str, Any],
        event: CustomerMessage | SystemEvent,
        context: TurnContext,
    ) -> Outcome:
        """The next dialog state, the replies and any handoff for one event."""
