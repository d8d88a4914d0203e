"""Suggested answers in the handoff thread: the knowledge base's best answers to the question
that led to the handoff (the dialog puts them in the handoff's ``debug["suggestions"]``), each
with its score and source, and a button that sends it to the customer as the agent's reply —
through the same relay as a typed reply, so only the conversation's owner can send one."""

from __future__ import annotations

from typing import Any

from gateway.handoff.posts import Posts
from gateway.handoff.state import HandoffState
from gateway.messages import SUGGEST_PREFIX, Button, OutboundMessage

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
