"""Reading and writing a conversation's handoff in its session.

The type itself, :class:`~gateway.sessions.HandoffState`, lives with the session that stores
it. The worker opens it in the ``requested`` phase with what the dialog said (trigger, reason,
queue, summary, debug); the desk takes it in (``queued``: the card is posted) and moves it on:
``agent`` (claimed), ``csat`` (resolved, the rating question asked), ``closed``.
"""

from __future__ import annotations

from gateway.sessions import HandoffOutcome, HandoffState, Phase, Session

State = Phase


def handoff_of(session: Session) -> HandoffState | None:
    """The session's handoff, if the desk has taken it in (it has a card)."""
    state = session.handoff
    return state if state is not None and state.taken_in else None


def with_handoff(session: Session, state: HandoffState) -> Session:
    return session.replace(handoff=state)


__all__ = ["HandoffOutcome", "HandoffState", "Phase", "State", "handoff_of", "with_handoff"]
