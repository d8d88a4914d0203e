"""Validate dialog YAML and compile it into ``dialogs.model.Bot``, with ``file:line`` for every
problem: unknown keys, intents (against the NLU data), entities, slots, templates, actions and
flows; bad regexes, conditions and templates; unreachable steps; flows that can never end.

The step language itself (what each key means) is compiled by ``dialogs.steps``.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from common.settings import ConfigProblem, Document, YamlPath
from dialogs.expressions import ExpressionError, compile_condition, compile_text
from dialogs.model import (
    RESERVED_NAMES,
    ButtonSpec,
    Escalation,
    HttpAction,
    Template,
)

SECTIONS = ("bot", "slots", "templates", "actions", "escalation", "flows")
EVENTS = ("first_contact", "handoff_returned")
DEFAULT_TEMPLATES = {
    "fallback": "Sorry, I didn't get that. Could you say it another way?",
    "did_you_mean": "Sorry, I'm not sure I understood. Did you mean one of these?",
    "cancelled": "OK, I've stopped that. What else can I do for you?",
    "handoff": "I'm passing you to a colleague who can help. Please hold on.",
    # Knowledge-base answers (docs/knowledge.md)
    "knowledge_source": "Source: {kb_title}",
    "knowledge_source_link": "Source: {kb_title} ({kb_link})",
    "knowledge_feedback": "Did that answer your question?",
    "knowledge_thanks": "Great, glad I could help!",
    "knowledge_unhelpful": "Sorry about that. You can ask again in other words, or talk to a "
    "person.",
}
# Entities NLU backends usually extract without annotated examples.
BUILTIN_ENTITIES = frozenset({"email", "number", "phone_number", "url", "date", "time", "amount"})
_ANNOTATION = re.compile(r"\[[^\]]+\]\(([A-Za-z_][\w-]*)(?:[:=][^)]*)?\)")
_JSON_ANNOTATION = re.compile(r"\[[^\]]+\](\{[^}]*\})")


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """What the NLU data knows: intent and entity names."""

    intents: frozenset[str]
    entities: frozenset[str]


def nlu_vocabulary(paths: list[Path]) -> tuple[Vocabulary, list[ConfigProblem]]:
    intents: set[str] = set()
    entities: set[str] = set(BUILTIN_ENTITIES)
    problems: list[ConfigProblem] = []
    if not paths:
        return Vocabulary(frozenset(), frozenset(entities)), problems
    for path in paths:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 1
            problems.append(ConfigProblem(str(path), line, f"cannot read NLU data: {exc}"))
            continue
        for item in data.get("nlu", []) if isinstance(data, dict) else []:
            if not isinstance(item, dict):
                continue
            if "intent" in item:
                intents.add(str(item["intent"]))
                examples = str(item.get("examples", ""))
                entities.update(_ANNOTATION.findall(examples))
                for raw in _JSON_ANNOTATION.findall(examples):
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        entities.add(str(json.loads(raw)["entity"]))
            for key in ("regex", "lookup"):
                if key in item:
                    entities.add(str(item[key]))
    return Vocabulary(frozenset(intents), frozenset(entities)), problems


class Compiler:
    """Collects the sections of every document, then compiles them in dependency order."""

    def __init__(self, documents: list[Document], vocabulary: Vocabulary | None) -> None:
        self.documents = documents
        self.vocabulary = vocabulary
        self.problems: list[ConfigProblem] = []
        # name -> (document, path) for every named item of every section
        self.items: dict[str, dict[str, tuple[Document, YamlPath]]] = {s: {} for s in SECTIONS}
        self.slots: dict[str, Any] = {}
        self.templates: dict[str, Template] = {}
        self.actions: dict[str, HttpAction] = {}
        self.flow_names: set[str] = set()

    # ---------------------------------------------------------------- helpers

    def problem(self, doc: Document, path: YamlPath, message: str) -> None:
        self.problems.append(ConfigProblem(doc.file, doc.line(path), message))

    def get(self, doc: Document, path: YamlPath) -> Any:
        value: Any = doc.data
        for key in path:
            value = value[key]
        return value

    def mapping(
        self, doc: Document, path: YamlPath, allowed: tuple[str, ...], what: str
    ) -> dict[str, Any] | None:
        value = self.get(doc, path)
        if not isinstance(value, dict):
            self.problem(doc, path, f"{what}: expected a mapping")
            return None
        for key in value:
            if key not in allowed:
                self.problem(
                    doc, (*path, key), f"{what}: unknown key {key} (allowed: {', '.join(allowed)})"
                )
        return value

    def text(self, doc: Document, path: YamlPath, value: Any, names: bool = True) -> Any:
        if not isinstance(value, str):
            self.problem(doc, path, f"expected text, got {value!r}")
            return None
        try:
            compiled = compile_text(value)
        except ExpressionError as exc:
            self.problem(doc, path, str(exc))
            return None
        if names:
            self.check_names(doc, path, compiled.names, "template")
        return compiled

    def condition(self, doc: Document, path: YamlPath, extra: frozenset[str] = frozenset()) -> Any:
        source = self.get(doc, path)
        if isinstance(source, bool | int | float):
            source = str(source)
        if not isinstance(source, str):
            self.problem(doc, path, f"expected a condition, got {source!r}")
            return None
        try:
            compiled = compile_condition(source)
        except ExpressionError as exc:
            self.problem(doc, path, str(exc))
            return None
        self.check_names(doc, path, compiled.names - extra, "condition")
        return compiled

    def check_names(self, doc: Document, path: YamlPath, names: frozenset[str], what: str) -> None:
        for name in sorted(names):
            if name not in self.slots and name not in RESERVED_NAMES:
                self.problem(doc, path, f"{what} uses unknown slot {name}")

    def regex(self, doc: Document, path: YamlPath, source: Any) -> re.Pattern[str] | None:
        try:
            return re.compile(str(source))
        except re.error as exc:
            self.problem(doc, path, f"bad regex {source!r}: {exc}")
            return None

    def intent(self, doc: Document, path: YamlPath, name: str) -> None:
        if self.vocabulary is not None and name not in self.vocabulary.intents:
            self.problem(doc, path, f"unknown intent {name} (not in the NLU data)")

    def entity(self, doc: Document, path: YamlPath, name: str) -> None:
        if self.vocabulary is not None and name not in self.vocabulary.entities:
            self.problem(doc, path, f"unknown entity {name} (not in the NLU data)")

    def slot(self, doc: Document, path: YamlPath, name: Any) -> bool:
        if name not in self.slots:
            self.problem(doc, path, f"unknown slot {name}")
            return False
        return True

    def template(self, doc: Document, path: YamlPath, name: Any) -> Template | None:
        if not isinstance(name, str) or name not in self.templates:
            self.problem(doc, path, f"unknown template {name}")
            return None
        return self.templates[name]

    # ---------------------------------------------------------------- sections

    def collect(self) -> None:
        for doc in self.documents:
            if not isinstance(doc.data, dict):
                self.problem(doc, (), "expected a mapping of sections at top level")
                continue
            for section, body in doc.data.items():
                if section not in SECTIONS:
                    self.problem(
                        doc, (section,), f"unknown section {section} ({', '.join(SECTIONS)})"
                    )
                    continue
                if section in ("bot", "escalation"):
                    if section in self.items[section]:
                        self.problem(doc, (section,), f"{section} is defined twice")
                    self.items[section][section] = (doc, (section,))
                    continue
                if body is None:
                    continue
                if not isinstance(body, dict):
                    self.problem(doc, (section,), f"{section}: expected a mapping of names")
                    continue
                for name in body:
                    if name in self.items[section]:
                        first, _ = self.items[section][name]
                        self.problem(
                            doc,
                            (section, name),
                            f"{section[:-1]} {name} is already defined in {first.file}",
                        )
                        continue
                    self.items[section][name] = (doc, (section, name))

    def compile_slots(self) -> None:
        for name, (doc, path) in self.items["slots"].items():
            if name in RESERVED_NAMES:
                self.problem(doc, path, f"slot {name}: the name is reserved")
            elif not name.isidentifier():
                self.problem(doc, path, f"slot {name}: use letters, digits and _")
            body = self.get(doc, path)
            initial = None
            if body is not None:
                spec = self.mapping(doc, path, ("initial", "description"), f"slot {name}")
                initial = spec.get("initial") if spec else None
            self.slots[name] = initial

    def compile_templates(self) -> None:
        for name, (doc, path) in self.items["templates"].items():
            body = self.get(doc, path)
            variants: Any = body
            buttons: list[ButtonSpec] = []
            if isinstance(body, dict):
                spec = self.mapping(doc, path, ("text", "buttons"), f"template {name}") or {}
                variants = spec.get("text")
                buttons = self.buttons(doc, (*path, "buttons"), spec.get("buttons"))
                path = (*path, "text")
            texts = variants if isinstance(variants, list) else [variants]
            compiled = [self.text(doc, (*path, i), v) for i, v in enumerate(texts)]
            if not texts or variants is None:
                self.problem(doc, path, f"template {name}: no text")
            elif all(compiled):
                self.templates[name] = Template(name, tuple(compiled), tuple(buttons))
        for name, text in DEFAULT_TEMPLATES.items():
            self.templates.setdefault(name, Template(name, (compile_text(text),)))

    def buttons(self, doc: Document, path: YamlPath, value: Any) -> list[ButtonSpec]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(doc, path, "buttons: expected a list of {title, payload}")
            return []
        out = []
        for i in range(len(value)):
            spec = self.mapping(doc, (*path, i), ("title", "payload"), "button")
            if spec is None:
                continue
            if "title" not in spec or "payload" not in spec:
                self.problem(doc, (*path, i), "button: needs title and payload")
                continue
            title = self.text(doc, (*path, i, "title"), spec["title"])
            if title:
                out.append(ButtonSpec(title, str(spec["payload"])))
        return out

    def compile_actions(self) -> None:
        allowed = ("url", "method", "timeout", "json", "save")
        for name, (doc, path) in self.items["actions"].items():
            spec = self.mapping(doc, path, allowed, f"action {name}")
            if spec is None:
                continue
            if "url" not in spec:
                self.problem(doc, path, f"action {name}: url is required")
                continue
            url = self.text(doc, (*path, "url"), spec["url"])
            method = str(spec.get("method", "GET")).upper()
            if method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                self.problem(doc, (*path, "method"), f"action {name}: unknown method {method}")
            timeout = spec.get("timeout", 5)
            if not isinstance(timeout, int | float) or timeout <= 0:
                self.problem(doc, (*path, "timeout"), "timeout: expected seconds > 0")
                timeout = 5
            body = self.body(doc, (*path, "json"), spec.get("json"))
            save = []
            raw_save = spec.get("save") or {}
            if not isinstance(raw_save, dict):
                self.problem(doc, (*path, "save"), "save: expected slot: field.path pairs")
                raw_save = {}
            for slot, field_path in raw_save.items():
                if self.slot(doc, (*path, "save", slot), slot):
                    save.append((slot, tuple(str(field_path).split("."))))
            if url is not None:
                self.actions[name] = HttpAction(
                    name, url, method, float(timeout), body, tuple(save)
                )

    def body(self, doc: Document, path: YamlPath, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(doc, path, value)
        if isinstance(value, dict):
            return {k: self.body(doc, (*path, k), v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.body(doc, (*path, i), v) for i, v in enumerate(value)]
        return value

    def escalation(self, doc: Document, path: YamlPath, what: str) -> Escalation | None:
        allowed = ("keywords", "sentiment_below", "intents", "when", "queue")
        spec = self.mapping(doc, path, allowed, what)
        if spec is None:
            return None
        keywords = None
        if words := spec.get("keywords"):
            keywords = keyword_pattern([str(w) for w in as_list(words)])
        sentiment = spec.get("sentiment_below")
        if sentiment is not None and (
            not isinstance(sentiment, int | float) or not -1 <= sentiment <= 1
        ):
            self.problem(doc, (*path, "sentiment_below"), "sentiment_below: expected -1 … 1")
            sentiment = None
        intents = [str(i) for i in as_list(spec.get("intents"))]
        for i, name in enumerate(intents):
            self.intent(doc, (*path, "intents", i), name)
        when = []
        raw_when = spec.get("when")
        if raw_when is not None:
            items = raw_when if isinstance(raw_when, list) else [raw_when]
            sub = (*path, "when")
            for i in range(len(items)):
                cond = self.condition(doc, (*sub, i) if isinstance(raw_when, list) else sub)
                if cond is not None:
                    when.append(cond)
        queue = spec.get("queue")
        return Escalation(
            keywords=keywords,
            sentiment_below=None if sentiment is None else float(sentiment),
            intents=frozenset(intents),
            when=tuple(when),
            queue=None if queue is None else str(queue),
        )


def keyword_pattern(words: list[str]) -> re.Pattern[str]:
    """Whole words or phrases, any case."""
    alternatives = "|".join(re.escape(w.strip()) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
