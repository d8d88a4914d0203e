"""The open handoff of a conversation, as kept in ``Session.handoff`` (a JSON object).

The worker opens it with what the dialog said (trigger, reason, queue, summary, at, debug); the
desk adds the rest: who the customer is and where they last wrote, the card, the owner, and the
times the statistics need. ``state``: ``queued`` (waiting for an agent), ``agent`` (claimed),
``csat`` (resolved, the rating question asked), ``closed``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import TypeAdapter

from common.messages import ConversationRef, CustomerRef
from gateway.sessions import Session

State = Literal["queued", "agent", "csat", "closed"]
Outcome = Literal["resolved", "returned", "abandoned"]


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffState:
    card: str  # the card's message key (its Slack ts is resolved by the outbox)
    customer: CustomerRef
    conversation: ConversationRef  # where the customer last wrote: replies go there
    trigger: str = "unknown"
    reason: str = ""
    queue: str | None = None
    summary: str = ""
    at: float = 0.0  # queued at
    debug: dict[str, Any] = field(default_factory=dict)
    state: State = "queued"
    after_hours: bool = False
    agent_id: str | None = None
    agent_name: str | None = None
    claimed_at: float | None = None
    first_reply_at: float | None = None
    last_customer_at: float = 0.0
    last_agent_at: float | None = None
    announced_at: float = 0.0
    announces: int = 0
    outcome: Outcome | None = None
    closed_at: float | None = None
    closed_by: str | None = None
    csat: int | None = None

    def replace(self, **changes: Any) -> HandoffState:
        return dataclasses.replace(self, **changes)

    @property
    def open(self) -> bool:
        return self.state in ("queued", "agent")

    @property
    def queue_name(self) -> str:
        return self.queue or "default"

    @property
    def last_activity(self) -> float:
        return max(self.last_customer_at, self.last_agent_at or 0.0, self.claimed_at or 0.0)


_adapter: TypeAdapter[HandoffState] = TypeAdapter(HandoffState)


def handoff_of(session: Session) -> HandoffState | None:
    """The session's handoff, if the desk has taken it in (it has a card)."""
    if not session.handoff or "card" not in session.handoff:
        return None
    return _adapter.validate_python(session.handoff)


def with_handoff(session: Session, state: HandoffState) -> Session:
    return session.replace(handoff=_adapter.dump_python(state, mode="json"))
