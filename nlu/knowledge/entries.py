"""What the knowledge base holds: entries (FAQ items and article sections) as frozen values,
with the file and line each came from."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from common.settings import ConfigProblem

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True, slots=True, kw_only=True)
class KbButton:
    title: str
    payload: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One answer: an FAQ item (``kind`` "faq") or a Markdown article section ("article").

    ``question`` is the FAQ question or the section's heading; ``phrasings`` are other ways
    customers ask it; ``answer`` is a dialog template (``{customer_name}`` and slots), with
    ``buttons`` like a dialog reply. ``body`` is extra text retrieval may match (an article
    section's text, which is also its answer)."""

    id: str
    kind: str
    question: str
    answer: str
    phrasings: tuple[str, ...] = ()
    buttons: tuple[KbButton, ...] = ()
    link: str | None = None
    tags: tuple[str, ...] = ()
    title: str = ""  # what the customer is told the answer is from ("Returns policy: Fees")
    file: str = ""
    line: int = 0
    answer_line: int = 0

    @property
    def source(self) -> str:
        return f"{self.file}:{self.line}"

    def texts(self) -> tuple[str, ...]:
        """The texts a customer's question is compared with: the question and its phrasings;
        for an article section also each sentence of its text (with the heading)."""
        if self.kind != "article":
            return (self.question, *self.phrasings)
        sentences = (s.strip() for s in _SENTENCE.split(self.answer.replace("{{", "{")))
        return (self.question, *(f"{self.question}: {s}" for s in sentences if s))


@dataclass(slots=True)
class KnowledgeSet:
    """Everything read from a knowledge folder; ``problems`` is empty when all is well."""

    entries: list[Entry] = field(default_factory=list)
    problems: list[ConfigProblem] = field(default_factory=list)
    digest: str = ""

    def by_id(self) -> dict[str, Entry]:
        return {e.id: e for e in self.entries}
