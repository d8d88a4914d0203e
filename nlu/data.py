"""Reads Rasa 3 NLU YAML (intents, entity annotations, synonyms, regexes, lookup tables)
into plain data, reporting every problem as ``file:line: message``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from common.settings import ConfigProblem

DEFAULT_MIN_EXAMPLES = 2
OUT_OF_SCOPE = "out_of_scope"

# Top-level keys a Rasa 3 training file may hold besides ``nlu``: not ours, but not errors.
_RASA_KEYS = {"version", "nlu", "rules", "stories", "responses", "intents", "entities", "slots"}
_RASA_KEYS |= {"forms", "actions", "session_config", "e2e_actions", "test_stories"}
_ITEM_KINDS = ("intent", "synonym", "regex", "lookup")
_ITEM_KEYS = {*_ITEM_KINDS, "examples", "metadata"}
_DICT_KEYS = {"entity", "value", "role", "group"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Annotation:
    """An entity marked in a training example; offsets are in the plain text."""

    entity: str
    value: str
    text: str
    start: int
    end: int
    role: str | None = None
    group: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Example:
    text: str
    intent: str
    entities: tuple[Annotation, ...] = ()
    file: str = ""
    line: int = 0


@dataclass(slots=True)
class NluData:
    """Everything read from one or more files; ``problems`` is empty when all is well."""

    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)  # lower-cased text -> value
    regexes: list[tuple[str, str]] = field(default_factory=list)  # (name, pattern)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    problems: list[ConfigProblem] = field(default_factory=list)

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})

    def extend(self, other: NluData) -> None:
        self.examples += other.examples
        self.synonyms.update(other.synonyms)
        self.regexes += other.regexes
        for name, values in other.lookups.items():
            self.lookups.setdefault(name, []).extend(values)
        self.problems += other.problems


class AnnotationError(ValueError):
    pass


_OPEN = re.compile(r"\[")


def parse_annotated(raw: str) -> tuple[str, tuple[Annotation, ...]]:
    """``"pay [50](amount) to [Ann]{"entity": "name"}"`` -> plain text and its entities.
    A ``[`` not followed by ``](…)`` or ``]{…}`` is plain text, as in Rasa."""
    out: list[str] = []
    entities: list[Annotation] = []
    pos = 0
    length = 0
    while (m := _OPEN.search(raw, pos)) is not None:
        close = raw.find("]", m.end())
        after = raw[close + 1 : close + 2] if close >= 0 else ""
        if close < 0 or after not in ("(", "{"):
            out.append(raw[pos : m.end()])
            length += m.end() - pos
            pos = m.end()
            continue
        before = raw[pos : m.start()]
        out.append(before)
        length += len(before)
        text = raw[m.end() : close]
        if not text.strip():
            raise AnnotationError(f"empty entity text in {raw[m.start() : close + 2]!r}")
        closer = ")" if after == "(" else "}"
        end = raw.find(closer, close + 2)
        if end < 0:
            raise AnnotationError(f"unclosed {after!r} in annotation {raw[m.start() :]!r}")
        body = raw[close + 2 : end]
        annotation = raw[m.start() : end + 1]
        entity, value, role, group = _annotation_body(after, body, annotation)
        entities.append(
            Annotation(
                entity=entity,
                value=value if value is not None else text,
                text=text,
                start=length,
                end=length + len(text),
                role=role,
                group=group,
            )
        )
        out.append(text)
        length += len(text)
        pos = end + 1
    out.append(raw[pos:])
    return "".join(out), tuple(entities)


def _annotation_body(
    kind: str, body: str, annotation: str
) -> tuple[str, str | None, str | None, str | None]:
    if kind == "(":
        entity, _, value = body.partition(":")
        entity = entity.strip()
        if not entity or not re.fullmatch(r"[\w.\-]+", entity):
            raise AnnotationError(f"bad entity name {entity!r} in {annotation!r}")
        return entity, (value.strip() or None) if _ else None, None, None
    try:
        spec = json.loads("{" + body + "}")
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"invalid JSON in {annotation!r}: {exc.msg}") from exc
    if not isinstance(spec, dict) or not isinstance(spec.get("entity"), str):
        raise AnnotationError(f'{annotation!r} needs an "entity" name')
    unknown = sorted(set(spec) - _DICT_KEYS)
    if unknown:
        raise AnnotationError(f"unknown key {unknown[0]!r} in {annotation!r}")

    def text_or_none(key: str) -> str | None:
        value = spec.get(key)
        return None if value is None else str(value)

    return spec["entity"], text_or_none("value"), text_or_none("role"), text_or_none("group")


class _FileReader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.data = NluData()

    def problem(self, line: int, message: str) -> None:
        self.data.problems.append(ConfigProblem(self.file, line, message))

    def read(self, text: str) -> NluData:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc)
            self.problem(mark.line + 1 if mark is not None else 1, f"invalid YAML: {problem}")
            return self.data
        if root is None:
            return self.data
        if not isinstance(root, yaml.MappingNode):
            self.problem(root.start_mark.line + 1, "expected a mapping with an 'nlu' key")
            return self.data
        for key, value in root.value:
            name = str(key.value)
            if name == "nlu":
                self.read_items(value)
            elif name not in _RASA_KEYS:
                self.problem(key.start_mark.line + 1, f"unknown key {name!r}")
        return self.data

    def read_items(self, node: yaml.Node) -> None:
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node.start_mark.line + 1, "'nlu' must be a list of items")
            return
        for item in node.value:
            line = item.start_mark.line + 1
            if not isinstance(item, yaml.MappingNode):
                self.problem(line, "expected an item like 'intent: name' with 'examples'")
                continue
            fields = {str(k.value): (k, v) for k, v in item.value}
            for name, (k, _) in fields.items():
                if name not in _ITEM_KEYS:
                    self.problem(k.start_mark.line + 1, f"unknown key {name!r}")
            kinds = [k for k in _ITEM_KINDS if k in fields]
            if len(kinds) != 1:
                what = " and ".join(kinds) if kinds else "none"
                self.problem(
                    line,
                    f"an item needs exactly one of intent, synonym, regex, lookup (found {what})",
                )
                continue
            kind = kinds[0]
            name_node = fields[kind][1]
            name = str(name_node.value).strip() if isinstance(name_node, yaml.ScalarNode) else ""
            if not name:
                self.problem(name_node.start_mark.line + 1, f"{kind}: needs a name")
                continue
            if "examples" not in fields:
                self.problem(line, f"{kind} {name!r} has no 'examples'")
                continue
            lines = list(self.example_lines(fields["examples"][1]))
            getattr(self, f"add_{kind}")(name, lines, line)

    def example_lines(self, node: yaml.Node) -> Iterable[tuple[str, int]]:
        """(text, line) for each ``- example``, with the line inside a block scalar."""
        if isinstance(node, yaml.SequenceNode):  # Rasa's list form: - text: … / metadata: …
            for item in node.value:
                if isinstance(item, yaml.ScalarNode):
                    yield str(item.value).strip(), item.start_mark.line + 1
                    continue
                text = None
                if isinstance(item, yaml.MappingNode):
                    text = next((v for k, v in item.value if k.value == "text"), None)
                if not isinstance(text, yaml.ScalarNode):
                    self.problem(item.start_mark.line + 1, "expected '- text: example'")
                    continue
                yield str(text.value).strip(), text.start_mark.line + 1
            return
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node.start_mark.line + 1, "examples must be a '|' block of '- ' lines")
            return
        # In a literal block the value's n-th line is the n-th line after the '|' indicator;
        # in other scalar styles lines may be folded, so the scalar's own line is the best.
        literal = node.style == "|"
        first = node.start_mark.line + 2 if literal else node.start_mark.line + 1
        for offset, raw in enumerate(str(node.value).split("\n")):
            line = first + offset if literal else first
            stripped = raw.strip()
            if not stripped:
                continue
            if not stripped.startswith("-"):
                self.problem(line, f"expected '- ' before the example {stripped!r}")
                continue
            yield stripped[1:].strip(), line

    def add_intent(self, name: str, lines: list[tuple[str, int]], line: int) -> None:
        for raw, at in lines:
            if not raw:
                self.problem(at, f"empty example in intent {name!r}")
                continue
            try:
                text, entities = parse_annotated(raw)
            except AnnotationError as exc:
                self.problem(at, f"intent {name!r}: {exc}")
                continue
            self.data.examples.append(
                Example(text=text, intent=name, entities=entities, file=self.file, line=at)
            )
            for e in entities:
                if e.value != e.text:
                    self.data.synonyms[e.text.lower()] = e.value

    def add_synonym(self, name: str, lines: list[tuple[str, int]], line: int) -> None:
        for raw, _ in lines:
            if raw:
                self.data.synonyms[raw.lower()] = name

    def add_regex(self, name: str, lines: list[tuple[str, int]], line: int) -> None:
        for raw, at in lines:
            try:
                re.compile(raw)
            except re.error as exc:
                self.problem(at, f"regex {name!r}: invalid pattern {raw!r}: {exc}")
                continue
            self.data.regexes.append((name, raw))

    def add_lookup(self, name: str, lines: list[tuple[str, int]], line: int) -> None:
        self.data.lookups.setdefault(name, []).extend(raw for raw, _ in lines if raw)


def read_text(text: str, file: str) -> NluData:
    return _FileReader(file).read(text)


def check(data: NluData, min_examples: int = DEFAULT_MIN_EXAMPLES) -> None:
    """Add the problems that span files: too few examples, one example under two intents."""
    seen: dict[str, Example] = {}
    counts: dict[str, list[Example]] = {}
    for example in data.examples:
        counts.setdefault(example.intent, []).append(example)
        key = " ".join(example.text.lower().split())
        first = seen.setdefault(key, example)
        if first is not example and first.intent != example.intent:
            data.problems.append(
                ConfigProblem(
                    example.file,
                    example.line,
                    f"example {example.text!r} is under intent {example.intent!r} and also "
                    f"under {first.intent!r} at {first.file}:{first.line}",
                )
            )
    for intent, examples in counts.items():
        if len(examples) < min_examples:
            data.problems.append(
                ConfigProblem(
                    examples[0].file,
                    examples[0].line,
                    f"intent {intent!r} has {len(examples)} example"
                    f"{'' if len(examples) == 1 else 's'}; at least {min_examples} are needed",
                )
            )


def read_files(paths: Iterable[str | Path], min_examples: int = DEFAULT_MIN_EXAMPLES) -> NluData:
    """Read several Rasa NLU YAML files into one NluData, with every problem found."""
    data = NluData()
    for path in paths:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            data.problems.append(ConfigProblem(str(p), 1, f"cannot read: {exc}"))
            continue
        data.extend(read_text(text, str(p)))
    check(data, min_examples)
    data.problems.sort(key=lambda p: (p.file, p.line))
    return data
