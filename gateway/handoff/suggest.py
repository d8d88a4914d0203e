"""The knowledge base in the handoff thread. Suggested answers: its best answers to the
question that led to the handoff (the dialog puts them in the handoff's
``debug["suggestions"]``), each with its score and source, and a button that sends it to the
customer as the agent's reply — through the same relay as a typed reply, so only the
conversation's owner can send one. "Teach the bot" (after Resolve): the customer's question and
the agent's last reply become a draft FAQ entry in the review inbox, live only after an admin
approves and applies it (``frontdesk review approve`` / ``apply``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from common.messages import SUGGEST_PREFIX, AgentEvent, Button, OutboundMessage
from gateway.handoff.posts import DeskTurn, Keys, Posts
from gateway.handoff.state import HandoffState
from gateway.review import review_inbox
from gateway.sessions import Session, decode_entry

if TYPE_CHECKING:
    from gateway.handoff.desk import HandoffDesk

PREVIEW = 300  # characters of each answer shown in the thread


def suggestions_of(state: HandoffState) -> list[dict[str, Any]]:
    found = state.debug.get("suggestions")
    return [s for s in found if isinstance(s, dict) and s.get("id")] if found else []


def suggestions_post(posts: Posts, key: str, state: HandoffState) -> OutboundMessage | None:
    found = suggestions_of(state)[:3]
    if not found:
        return None
    lines = ["Suggested answers from the knowledge base (claim, then press one to send it):"]
    for n, s in enumerate(found, 1):
        answer = str(s.get("answer") or "")
        preview = answer if len(answer) <= PREVIEW else answer[: PREVIEW - 1] + "…"
        source = str(s.get("link") or s.get("source") or "")
        lines.append(f"{n}. {s.get('title')} (score {float(s.get('score') or 0):.2f}, {source})")
        lines.append(f"   {preview}")
    buttons = tuple(
        Button(title=f"Send {n}", payload=f"{SUGGEST_PREFIX}{s['id']}")
        for n, s in enumerate(found, 1)
    )
    return posts.slack(key, state, "thread", "\n".join(lines), buttons=buttons)


def suggested_answer(state: HandoffState, ident: str) -> str | None:
    for s in suggestions_of(state):
        if str(s["id"]) == ident:
            return str(s.get("answer") or "") or None
    return None


async def teach(
    desk: HandoffDesk, key: str, session: Session, state: HandoffState, event: AgentEvent,
    keys: Keys,
) -> DeskTurn:  # fmt: skip
    """A draft FAQ entry from the handoff's question and the agent's last reply."""
    history = [decode_entry(e) for e in await desk.store.transcript(key)]
    question = str(state.debug.get("question") or "")
    if not question:
        asked = [e.text for e in history if e.direction == "in" and e.at <= state.at]
        question = asked[-1] if asked else ""
    replies = [
        e.text.removeprefix("[reply] ")
        for e in history
        if e.direction == "agent" and e.at >= state.at and e.text.startswith("[reply] ")
    ]
    if not question.strip() or not replies:
        text = "Nothing to teach: this handoff has no customer question or no reply of yours."
        return DeskTurn(session, [desk.posts.ephemeral(keys(), state, event, text)])
    inbox = review_inbox(desk.store, retention=desk.retention)
    ident = await inbox.add(question, "teach", key, [])
    if ident is None:
        return DeskTurn(session)
    await inbox.label(ident, {"new_faq": {"answer": replies[-1], "id": None}, "draft": True})
    name, _ = desk.posts.agent_names(event)
    text = (
        f"{name} drafted an FAQ entry from this conversation (review item {ident}). It goes "
        f"live after an admin approves it: frontdesk review approve {ident}, then "
        "frontdesk review apply."
    )
    return DeskTurn(session, [desk.posts.slack(keys(), state, "thread", text)])
