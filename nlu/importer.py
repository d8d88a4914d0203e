"""Training data from outside Rasa's YAML: spreadsheets (CSV) and SNIPS-style JSON, read into
NluData and written out as Rasa NLU YAML; ``read_any`` reads any mix of the three."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from common.settings import ConfigProblem
from nlu.data import DEFAULT_MIN_EXAMPLES, Annotation, Example, NluData, check, read_files


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # e.g. SNIPS' PlayMusic file


def read_csv(path: str | Path, text_column: str, intent_columns: Sequence[str]) -> NluData:
    """One example per row; several intent columns are joined with ``_`` (HWU64's
    ``scenario`` + ``intent``). The delimiter (, ; tab |) is detected."""
    p = Path(path)
    data = NluData()
    try:
        content = _decode(p.read_bytes())
    except OSError as exc:
        data.problems.append(ConfigProblem(str(p), 1, f"cannot read: {exc.strerror}"))
        return data
    try:
        dialect: Any = csv.Sniffer().sniff(content[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(content), dialect=dialect)
    header = reader.fieldnames or []
    missing = [c for c in (text_column, *intent_columns) if c not in header]
    if missing:
        data.problems.append(
            ConfigProblem(str(p), 1, f"no column {missing[0]!r} (columns: {', '.join(header)})")
        )
        return data
    for row in reader:
        line = reader.line_num
        text = (row.get(text_column) or "").strip()
        intent = "_".join((row.get(c) or "").strip() for c in intent_columns)
        if not text or not intent.strip("_"):
            data.problems.append(ConfigProblem(str(p), line, "empty text or intent"))
            continue
        data.examples.append(Example(text=text, intent=intent, file=str(p), line=line))
    return data


def read_snips(path: str | Path) -> NluData:
    """``{"Intent": [{"data": [{"text": …, "entity"?: …}, …]}, …]}`` with entities kept."""
    p = Path(path)
    data = NluData()
    try:
        spec = json.loads(_decode(p.read_bytes()))
    except (OSError, json.JSONDecodeError) as exc:
        data.problems.append(ConfigProblem(str(p), 1, f"cannot read SNIPS JSON: {exc}"))
        return data
    for intent, items in spec.items():
        for n, item in enumerate(items, start=1):
            text = ""
            entities: list[Annotation] = []
            for chunk in item.get("data", []):
                piece = str(chunk.get("text", ""))
                if chunk.get("entity") and piece.strip():
                    lead = len(piece) - len(piece.lstrip())
                    value = piece.strip()
                    start = len(text) + lead
                    entities.append(
                        Annotation(
                            entity=str(chunk["entity"]), value=value, text=value,
                            start=start, end=start + len(value),
                        )
                    )  # fmt: skip
                text += piece
            plain = " ".join(text.split())
            if plain != text:  # keep offsets right only when the text needs no cleaning
                entities = []
            if plain:
                data.examples.append(
                    Example(
                        text=plain, intent=intent, entities=tuple(entities), file=str(p), line=n
                    )
                )
    return data


def read_any(
    paths: Iterable[str | Path],
    *,
    text_column: str = "text",
    intent_columns: Sequence[str] = ("intent",),
    min_examples: int = DEFAULT_MIN_EXAMPLES,
) -> NluData:
    """Rasa YAML (.yml/.yaml), CSV (.csv) and SNIPS JSON (.json) files into one NluData."""
    data = NluData()
    yaml_paths: list[str | Path] = []
    for path in paths:
        suffix = Path(path).suffix.lower()
        if suffix == ".csv":
            data.extend(read_csv(path, text_column, intent_columns))
        elif suffix == ".json":
            data.extend(read_snips(path))
        else:
            yaml_paths.append(path)
    if yaml_paths:
        data.extend(read_files(yaml_paths, min_examples=min_examples))
    else:
        check(data, min_examples)
    return data


def _annotated(example: Example) -> str:
    out, pos = [], 0
    for e in sorted(example.entities, key=lambda a: a.start):
        out.append(example.text[pos : e.start])
        if e.role or e.group:
            spec = {"entity": e.entity, "value": e.value, "role": e.role, "group": e.group}
            body = json.dumps({k: v for k, v in spec.items() if v is not None})
            out.append(f"[{e.text}]{body}")
        elif e.value != e.text:
            out.append(f"[{e.text}]({e.entity}:{e.value})")
        else:
            out.append(f"[{e.text}]({e.entity})")
        pos = e.end
    out.append(example.text[pos:])
    return "".join(out)


def to_yaml(data: NluData) -> str:
    """Rasa 3 NLU YAML: one ``- intent:`` item per intent with an ``examples: |`` block."""
    by_intent: dict[str, list[str]] = {}
    for example in data.examples:
        text = " ".join(_annotated(example).split())
        by_intent.setdefault(example.intent, []).append(text)
    lines = ['version: "3.1"', "nlu:"]
    for intent in sorted(by_intent):
        name = intent if re.fullmatch(r"[\w.\-/]+", intent) else json.dumps(intent)
        lines += [f"- intent: {name}", "  examples: |"]
        lines += [f"    - {text}" for text in by_intent[intent]]
    return "\n".join(lines) + "\n"
