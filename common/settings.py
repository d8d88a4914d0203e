"""The settings loader: YAML with ``${VAR}`` / ``${VAR:-default}`` from the environment,
validated into a frozen pydantic model; every problem names its file, line and key.

Each package owns its settings models (``gateway.settings``, ``channels.settings``,
``nlu.settings``, ``dialogs.settings``); the composition root (``frontdesk.config``) puts them
together and loads ``config.yml`` with :func:`parse_model`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError


class Section(BaseModel):
    """One section of the settings: frozen, and an unknown key is a problem."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def requirements(self) -> list[tuple[str, str]]:
        """Settings required by other settings: (key, message) for each one missing."""
        return []


_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: object) -> object:
    """``90d``, ``12h``, ``30m``, ``45s``, ``2w`` or a number of seconds, as seconds; anything
    else is returned unchanged for the field's own validation to reject."""
    if isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if match is None:
            raise ValueError(f"not a duration: {value!r} (say 90d, 12h, 30m or seconds)")
        return float(match.group(1)) * _UNITS[match.group(2)]
    return value


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ConfigError(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
_SCALARS = yaml.SafeLoader("")  # only its scalar constructors are used
YamlPath = tuple[str | int, ...]
Path_ = YamlPath


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
    text: str, file: str, env: dict[str, str] | None = None, *, name_paths: bool = False
) -> tuple[Document, list[ConfigProblem]]:
    """Parse one YAML text, keeping each value's line (composed node marks); ``${VAR}`` and
    ``${VAR:-default}`` in strings come from ``env`` (the environment by default). YAML syntax
    errors, duplicate keys and unset variables are problems; with ``name_paths`` each problem
    also names the dotted key it is about (``server.port: duplicate key``)."""
    env = dict(os.environ) if env is None else env
    problems: list[ConfigProblem] = []
    doc = Document(file, None)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        reason = getattr(exc, "problem", None) or str(exc)
        return doc, [ConfigProblem(file, line, f"invalid YAML: {reason}")]

    def problem(node: yaml.Node, path: YamlPath, message: str) -> None:
        where = f"{_dotted(path)}: " if name_paths else ""
        problems.append(ConfigProblem(file, node.start_mark.line + 1, where + message))

    def substitute(node: yaml.ScalarNode, path: YamlPath) -> str:
        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            problem(
                node,
                path,
                f"environment variable {name} is not set "
                f"(write ${{{name}:-default}} to give a default)",
            )
            return ""

        return _ENV_REF.sub(replace, str(node.value))

    def build(node: yaml.Node, path: YamlPath) -> Any:
        doc.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in out:
                    duplicate = "duplicate key" if name_paths else f"duplicate key {key}"
                    problem(key_node, (*path, key), duplicate)
                doc.lines[(*path, key)] = key_node.start_mark.line + 1
                out[key] = build(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        if node.tag == "tag:yaml.org,2002:str" and "${" in node.value:
            return substitute(node, path)
        return _SCALARS.construct_object(node, deep=True)

    doc.data = {} if root is None else build(root, ())
    return doc, problems


def _dotted(path: YamlPath) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _describe(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "model_type" or kind == "dict_type":
        return "expected a mapping of settings"
    value = error.get("input")
    if isinstance(value, str):  # a URL's user:password (a Redis URL) is not echoed
        value = _URL_CREDENTIALS.sub(r"\1***@", value)
    return f"{error['msg'].rstrip('.').lower()} (got {value!r})"


_URL_CREDENTIALS = re.compile(r"(://)[^/@\s]*@")


M = TypeVar("M", bound=Section)


def parse_model(text: str, file: str, model: type[M], env: dict[str, str] | None = None) -> M:
    """Parse and validate settings text into ``model``; raise ConfigError listing every
    problem (YAML, unknown keys, bad values, missing environment variables, and each
    section's :meth:`Section.requirements`), sorted by line."""
    doc, problems = read_document(text, file, env, name_paths=True)
    if problems and doc.data is None:
        raise ConfigError(problems)  # not YAML
    data = doc.data
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(file, 1, "expected a mapping of settings at top level")])
    settings: M | None = None
    try:
        settings = model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc: Path_ = tuple(error["loc"])
            problems.append(
                ConfigProblem(file, doc.line(loc), f"{_dotted(loc)}: {_describe(error)}")
            )
    # Cross-field requirements, checked on each section's own data so that they are reported
    # even when other settings are bad.
    for path, message in _requirements(model, data, ()):
        problems.append(ConfigProblem(file, doc.line(path), f"{_dotted(path)}: {message}"))
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: p.line))
    assert settings is not None
    return settings


def _requirements(model: type[Section], raw: Any, path: Path_) -> list[tuple[Path_, str]]:
    """Each nested section's requirements, validated on its own raw data."""
    if not isinstance(raw, dict):
        return []
    found: list[tuple[Path_, str]] = []
    for name, info in model.model_fields.items():
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, Section):
            found += _requirements(kind, raw.get(name, {}), (*path, name))
    if path:
        try:
            section = model.model_validate(raw)
        except ValidationError:
            return found  # already reported
        found += [((*path, key), message) for key, message in section.requirements()]
    return found
