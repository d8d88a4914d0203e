"""Read a directory of dialog YAML into a frozen, validated ``Bot`` (or every problem found).

Every ``*.yml`` / ``*.yaml`` file directly in the directory is read (subdirectories such as
``tests/`` are not) as a :class:`~common.settings.Document`, then compiled: the sections by
``dialogs.schema``, the flows by ``dialogs.steps``, the knowledge base by ``dialogs.knowledge``.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.settings import ConfigProblem, Document, read_document
from dialogs.knowledge import KnowledgeSpec, load_answers
from dialogs.model import Bot, Escalation, Flow
from dialogs.schema import Compiler, Vocabulary, as_list, nlu_vocabulary
from dialogs.steps import FlowCompiler, check_flows


def dialog_files(path: str | Path) -> list[Path]:
    root = Path(path)
    if root.is_file():
        return [root]
    return sorted(p for p in root.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())


def nlu_files(patterns: Iterable[str], base: str | Path = ".") -> list[Path]:
    files: set[Path] = set()
    for pattern in patterns:
        full = pattern if os.path.isabs(pattern) else str(Path(base) / pattern)
        files.update(Path(p) for p in glob.glob(full, recursive=True))
    return sorted(files)


@dataclass(frozen=True, slots=True)
class LoadResult:
    bot: Bot | None
    problems: list[ConfigProblem]


def load_bot(
    path: str | Path,
    *,
    nlu_data: Iterable[str | Path] | None = None,
    env: dict[str, str] | None = None,
    knowledge: KnowledgeSpec | None = None,
) -> LoadResult:
    """Read and validate the dialog directory ``path``; check intents and entities against the
    Rasa-format NLU files ``nlu_data`` when given, and load the knowledge base when given.
    ``bot`` is None when there are problems."""
    root = Path(path)
    if not root.exists():
        return LoadResult(None, [ConfigProblem(str(root), 1, "no such dialog directory")])
    documents: list[Document] = []
    problems: list[ConfigProblem] = []
    digest = hashlib.sha256()
    for file in dialog_files(root):
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            problems.append(ConfigProblem(str(file), 1, f"cannot read: {exc.strerror}"))
            continue
        digest.update(file.name.encode() + b"\0" + text.encode())
        doc, found = read_document(text, str(file), env)
        problems.extend(found)
        if doc.data is not None:
            documents.append(doc)
    if not documents and not problems:
        problems.append(ConfigProblem(str(root), 1, "no dialog YAML files (*.yml) found"))
    vocabulary = None
    if nlu_data is not None:
        vocabulary, found = nlu_vocabulary([Path(p) for p in nlu_data])
        problems.extend(found)
    bot, found = compile_bot(documents, vocabulary, version=digest.hexdigest()[:12])
    problems.extend(found)
    if knowledge is not None:
        answers, found = load_answers(knowledge, bot.slots if bot is not None else None)
        problems.extend(found)
        if bot is not None and answers is not None:
            version = f"{bot.version}+{answers.kb.digest}"
            bot = dataclasses.replace(bot, knowledge=answers, version=version)
    problems.sort(key=lambda p: (p.file, p.line))
    return LoadResult(None if problems else bot, problems)


def compile_bot(
    documents: list[Document], vocabulary: Vocabulary | None, version: str = ""
) -> tuple[Bot | None, list[ConfigProblem]]:
    c = Compiler(documents, vocabulary)
    c.collect()
    c.compile_slots()
    c.compile_templates()
    c.compile_actions()
    c.flow_names = set(c.items["flows"])
    settings: dict[str, Any] = {}
    if "bot" in c.items["bot"]:
        doc, path = c.items["bot"]["bot"]
        allowed = ("fallback_limit", "cancel_words", "max_interruptions", "suggest_min_confidence")
        settings = c.mapping(doc, path, allowed, "bot") or {}
        for key in ("fallback_limit", "max_interruptions"):
            value = settings.get(key, 1)
            if not isinstance(value, int) or value < 1:
                c.problem(doc, (*path, key), f"{key}: expected a whole number ≥ 1")
                settings.pop(key, None)
    escalation = Escalation()
    if "escalation" in c.items["escalation"]:
        doc, path = c.items["escalation"]["escalation"]
        escalation = c.escalation(doc, path, "escalation") or escalation
    flows: dict[str, Flow] = {}
    compiler = FlowCompiler(c)
    for name, (doc, path) in c.items["flows"].items():
        flow = compiler.flow(name, doc, path)
        if flow is not None:
            flows[name] = flow
    check_flows(c, compiler, flows)
    if c.problems:
        return None, c.problems
    cancel = settings.get("cancel_words", ["cancel", "stop", "never mind", "forget it"])
    bot = Bot(
        flows=flows,
        templates=c.templates,
        slots=c.slots,
        actions=c.actions,
        escalation=escalation,
        fallback_limit=int(settings.get("fallback_limit", 2)),
        cancel_words=frozenset(" ".join(str(w).lower().split()) for w in as_list(cancel)),
        max_interruptions=int(settings.get("max_interruptions", 2)),
        suggest_min_confidence=float(settings.get("suggest_min_confidence", 0.1)),
        intent_flows=compiler.intent_flows,
        button_flows=compiler.button_flows,
        pattern_flows=tuple(compiler.pattern_flows),
        event_flows=compiler.event_flows,
        version=version,
    )
    return bot, []
