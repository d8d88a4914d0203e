"""Read a directory of dialog YAML into a frozen, validated ``Bot`` (or every problem found).

Every ``*.yml`` / ``*.yaml`` file directly in the directory is read (subdirectories such as
``tests/`` are not); ``${VAR}`` / ``${VAR:-default}`` in strings come from the environment, as
in ``config.yml``. Each value keeps its line (composed YAML node marks, as ``common.settings``
does), so ``dialogs.schema`` can report ``file:line: message``.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from common.settings import ConfigProblem
from dialogs.model import Bot

if TYPE_CHECKING:
    from dialogs.knowledge import KnowledgeSpec

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
_SCALARS = yaml.SafeLoader("")  # only its scalar constructors are used
YamlPath = tuple[str | int, ...]


@dataclass(slots=True)
class Document:
    """One YAML file as plain data, with the line of every value and mapping key."""

    file: str
    data: Any
    lines: dict[YamlPath, int] = field(default_factory=dict)

    def line(self, path: YamlPath) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)


def read_document(
    text: str, file: str, env: dict[str, str] | None = None
) -> tuple[Document, list[ConfigProblem]]:
    """Parse one YAML text; YAML syntax errors and unset variables are problems."""
    env = dict(os.environ) if env is None else env
    problems: list[ConfigProblem] = []
    doc = Document(file, None)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        return doc, [ConfigProblem(file, line, f"invalid YAML: {problem}")]

    def build(node: yaml.Node, path: YamlPath) -> Any:
        doc.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in out:
                    problems.append(
                        ConfigProblem(file, key_node.start_mark.line + 1, f"duplicate key {key}")
                    )
                doc.lines[(*path, key)] = key_node.start_mark.line + 1
                out[key] = build(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        if node.tag == "tag:yaml.org,2002:str" and "${" in node.value:
            return _substitute(node, env, file, problems)
        return _SCALARS.construct_object(node, deep=True)

    doc.data = {} if root is None else build(root, ())
    return doc, problems


def _substitute(
    node: yaml.ScalarNode, env: dict[str, str], file: str, problems: list[ConfigProblem]
) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        problems.append(
            ConfigProblem(
                file,
                node.start_mark.line + 1,
                f"environment variable {name} is not set (write ${{{name}:-default}})",
            )
        )
        return ""

    return _ENV_REF.sub(replace, str(node.value))


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
    from dialogs.schema import compile_bot, nlu_vocabulary

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
        from dialogs.knowledge import load_answers

        answers, found = load_answers(knowledge, bot.slots if bot is not None else None)
        problems.extend(found)
        if bot is not None and answers is not None:
            version = f"{bot.version}+{answers.kb.digest}"
            bot = dataclasses.replace(bot, knowledge=answers, version=version)
    problems.sort(key=lambda p: (p.file, p.line))
    return LoadResult(None if problems else bot, problems)
