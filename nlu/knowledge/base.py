"""A knowledge base ready to answer: its entries and the retriever built on them, from a
folder and the ``knowledge`` settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.settings import ConfigProblem
from nlu.knowledge.encoder import resolve_encoder
from nlu.knowledge.entries import Entry
from nlu.knowledge.loader import load_knowledge
from nlu.knowledge.retrieval import Encoder, Retriever
from nlu.settings import KnowledgeSettings


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    entries: dict[str, Entry]
    retriever: Retriever
    digest: str = ""


def open_knowledge(
    path: str | Path,
    settings: KnowledgeSettings,
    *,
    encoder: Encoder | None = None,
    use_encoder: bool = True,
    threshold: float | None = None,
) -> tuple[KnowledgeBase | None, list[ConfigProblem]]:
    """The knowledge base in ``path`` (None with every problem when it has any). The
    encoder is ``encoder`` if given, else the configured one (not when ``use_encoder`` is
    false, as for ``frontdesk validate``)."""
    found = load_knowledge(path)
    if found.problems:
        return None, found.problems
    if encoder is None and use_encoder:
        encoder = resolve_encoder(settings.encoder)
    retriever = Retriever(
        found.entries,
        threshold=settings.threshold_for(fused=encoder is not None)
        if threshold is None
        else threshold,
        encoder=encoder,
    )
    return KnowledgeBase(found.by_id(), retriever, found.digest), []
