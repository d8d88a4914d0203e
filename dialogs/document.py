"""One dialog YAML file as plain data that remembers the line of every value and key, with
``${VAR}`` / ``${VAR:-default}`` in strings taken from the environment (as in ``config.yml``),
so that the schema can report ``file:line: message``."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from common.settings import ConfigProblem

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
