"""What of a turn goes to the review inbox: a message not understood (and not answered from
the knowledge base), one answered with low confidence, a knowledge-base answer the customer
marked "No", and the message that triggered a handoff — each with the bot's top guesses."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from common.logging import get_logger
from gateway.review.inbox import ReviewInbox

MARGIN_INTENT = 0.15  # an intent below nlu.threshold + this is "low confidence"
MARGIN_KNOWLEDGE = 0.1  # a knowledge-base answer below its threshold + this


def to_review(
    text: str, debug: Mapping[str, Any], handoff: bool, *, low_intent: float
) -> list[tuple[str, str, list[tuple[str, float]]]]:
    """(kind, text, the bot's top guesses for that text) for each thing to count. A dialog
    that says nothing of understanding (the echo dialog: no debug) has nothing to review."""
    if not debug and not handoff:
        return []
    notes = list(debug.get("knowledge") or ())
    intents = [(f"intent:{n}", float(c)) for n, c in debug.get("ranking") or ()]
    asked = [(f"faq:{i}", float(s)) for n in notes for i, s in n.get("candidates") or ()]
    guesses = sorted(intents + asked, key=lambda g: -g[1])[:3]
    out: list[tuple[str, str, list[tuple[str, float]]]] = []
    trigger: tuple[str, list[tuple[str, float]]] = (text, guesses)
    for note in notes:
        kind, question = note.get("kind"), str(note.get("question") or text)
        if kind == "miss":
            out.append(("miss", question, guesses))
        elif kind == "no":  # the question, with the answer that did not help
            trigger = (question, [(f"faq:{note.get('id')}", float(note.get("score") or 0))])
            out.append(("no", *trigger))
        elif kind == "answer" and float(note.get("score") or 0) < (
            float(note.get("threshold") or 0) + MARGIN_KNOWLEDGE
        ):
            out.append(("low_confidence", question, guesses))
    intent, flow = debug.get("intent"), debug.get("flow")
    if not notes and text.strip() and intent is None and flow is None and not handoff:
        out.append(("miss", text, guesses))
    confidence = debug.get("confidence")
    if intent is not None and confidence is not None and float(confidence) < low_intent:
        out.append(("low_confidence", text, guesses))
    if handoff:
        out.append(("handoff", *trigger))
    return out


MAX_REVIEW_CHARS = 1000


@dataclass(slots=True)
class ReviewRecorder:
    inbox: ReviewInbox
    low_intent: float

    async def record(
        self, conversation: str, text: str, debug: Mapping[str, Any], handoff: bool
    ) -> None:
        """Count what ``debug`` says went wrong; a store failure only logs (the customer's
        turn goes on)."""
        text = text[:MAX_REVIEW_CHARS]  # an admin reviews a question, not a 1 MB paste
        found = to_review(text, debug, handoff, low_intent=self.low_intent)
        try:
            for note in debug.get("knowledge") or ():
                await self.inbox.count(str(note.get("kind")), time.time())
        except Exception:  # the statistics must never break a turn
            get_logger(conversation_id=conversation).exception("knowledge_count_failed")
        for kind, said, guesses in found:
            try:
                await self.inbox.add(said, kind, conversation, guesses)
            except Exception:  # the inbox must never break a turn
                get_logger(conversation_id=conversation).exception("review_inbox_failed")


def knowledge_summary(counts: dict[str, int]) -> dict[str, Any]:
    """The answer rate (answers / questions the knowledge base was asked) and helpfulness
    (yes / feedback given) for ``frontdesk stats``."""
    answers, misses = counts.get("answer", 0), counts.get("miss", 0)
    yes, no = counts.get("yes", 0), counts.get("no", 0)
    return {
        "answers": answers, "misses": misses, "yes": yes, "no": no,
        "answer_rate": round(answers / (answers + misses), 4) if answers + misses else None,
        "helpful": round(yes / (yes + no), 4) if yes + no else None,
    }  # fmt: skip


def describe_knowledge(k: dict[str, Any]) -> str:
    if k["answer_rate"] is None:
        return "  knowledge base:      not asked"
    helpful = (
        f"{k['helpful']:.0%} of {k['yes'] + k['no']} answers rated helpful"
        if k["helpful"] is not None
        else "no feedback"
    )
    return (
        f"  knowledge base:      answered {k['answer_rate']:.0%} of "
        f"{k['answers'] + k['misses']} questions; {helpful}"
    )
