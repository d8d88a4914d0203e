"""The knowledge base as the dialog engine uses it: every entry's answer compiled into a
template (the same language and buttons as dialog replies, checked with ``file:line``), and the
retriever the runner asks. Built with the bot, so hot reload swaps both together."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.settings import ConfigProblem
from dialogs.expressions import ExpressionError, compile_text
from dialogs.model import RESERVED_NAMES, Answers, ButtonSpec, Template
from nlu.knowledge.base import open_knowledge
from nlu.knowledge.entries import Entry
from nlu.knowledge.generator import GeneratorSettings
from nlu.knowledge.retrieval import Encoder
from nlu.settings import KnowledgeSettings


@dataclass(frozen=True, slots=True)
class KnowledgeSpec:
    """Where the knowledge base is and how to open it (``knowledge`` settings)."""

    path: str
    settings: KnowledgeSettings
    use_encoder: bool = True
    encoder: Encoder | None = None

    @classmethod
    def of(cls, settings: Any, *, use_encoder: bool = True) -> KnowledgeSpec | None:
        """From the whole ``Settings``; None when ``knowledge.enabled`` is off."""
        ks: KnowledgeSettings = settings.knowledge
        if not ks.enabled:
            return None
        return cls(ks.folder(settings.dialogs.path), ks, use_encoder)


def load_answers(
    spec: KnowledgeSpec, slots: dict[str, Any] | None
) -> tuple[Answers | None, list[ConfigProblem]]:
    """The compiled knowledge base; a folder that does not exist is no knowledge base (None,
    no problem). Template names are checked against ``slots`` when given."""
    if not Path(spec.path).exists():
        return None, []
    kb, problems = open_knowledge(
        spec.path, spec.settings, encoder=spec.encoder, use_encoder=spec.use_encoder
    )
    if kb is None:
        return None, problems
    templates: dict[str, Template] = {}
    for entry in kb.entries.values():
        template = _template(entry, slots, problems)
        if template is not None:
            templates[entry.id] = template
    if problems:
        return None, problems
    ks = spec.settings
    generator = None
    if ks.generator == "openai":
        generator = GeneratorSettings(
            base_url=ks.base_url, model=ks.model, api_key=ks.api_key, timeout=ks.timeout
        )
    return Answers(kb, templates, ks.before_fallback, generator), []


def _template(
    entry: Entry, slots: dict[str, Any] | None, problems: list[ConfigProblem]
) -> Template | None:
    def compiled(text: str) -> Any:
        try:
            out = compile_text(text)
        except ExpressionError as exc:
            problems.append(ConfigProblem(entry.file, entry.answer_line, str(exc)))
            return None
        if slots is not None:
            for name in sorted(out.names - set(slots) - RESERVED_NAMES):
                message = f"answer of {entry.id} uses unknown slot {name}"
                problems.append(ConfigProblem(entry.file, entry.answer_line, message))
        return out

    text = compiled(entry.answer)
    buttons = [(compiled(b.title), b.payload) for b in entry.buttons]
    if text is None or any(title is None for title, _ in buttons):
        return None
    return Template(f"kb:{entry.id}", (text,), tuple(ButtonSpec(t, p) for t, p in buttons))
