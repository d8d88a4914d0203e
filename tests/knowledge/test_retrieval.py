"""Retrieval: TF-IDF alone, a pluggable sentence encoder fused with it, and the example bot's
conversation tests with and without the real encoder (the answers must hold either way)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from frontdesk.commands.dialogs import run_conversation_tests
from frontdesk.config import Settings
from nlu.knowledge.entries import Entry
from nlu.knowledge.retrieval import Retriever
from nlu.settings import KnowledgeSettings

ENTRIES = [
    Entry(id="refund", kind="faq", question="How do I get my money back?", answer="Refunds…"),
    Entry(id="hours", kind="faq", question="When are you open?", answer="9 to 5."),
]


def synonyms(texts: Sequence[str]) -> Any:
    """A stand-in encoder that knows "reimbursement" means money back."""
    out = np.zeros((len(texts), 2), dtype=np.float32)
    for i, text in enumerate(texts):
        t = text.lower()
        out[i] = [1.0, 0.0] if ("money" in t or "reimburse" in t or "refund" in t) else [0, 1.0]
    return out


def test_lexical_alone_ranks_by_words_and_refuses_below_the_threshold() -> None:
    r = Retriever(ENTRIES, threshold=0.4)
    hit = r.ask("how do I get my money back")
    assert hit.answer is not None and hit.answer.entry.id == "refund"
    assert [c.entry.id for c in hit.candidates] == ["refund"]  # no word in common: left out
    assert r.ask("reimbursement please").answer is None


def test_the_encoder_is_fused_and_finds_what_words_miss() -> None:
    r = Retriever(ENTRIES, threshold=0.4, encoder=synonyms)
    hit = r.ask("reimbursement please")
    assert hit.answer is not None and hit.answer.entry.id == "refund"
    assert hit.as_json()["candidates"][0]["id"] == "refund"


def test_threshold_default_depends_on_the_scorer() -> None:
    assert KnowledgeSettings().threshold_for(fused=False) == 0.4
    assert KnowledgeSettings().threshold_for(fused=True) == 0.5
    assert KnowledgeSettings(threshold=0.3).threshold_for(fused=True) == 0.3


def encoders() -> list[str]:
    from nlu import encoder

    return ["none", "embeddings"] if encoder.available() else ["none"]


@pytest.mark.parametrize("encoder", encoders())
async def test_the_example_conversations_hold_with_and_without_the_encoder(encoder: str) -> None:
    from nlu.model import BuiltinBackend, load_or_train

    settings = Settings.model_validate({"knowledge": {"encoder": encoder}})
    nlu = BuiltinBackend(load_or_train(settings.nlu))
    lines: list[str] = []
    code = await run_conversation_tests(
        settings, "dialogs/example/tests/knowledge.yml", nlu=nlu, out=lines.append
    )
    assert code == 0, "\n".join(lines)
