"""``frontdesk kb import``: an FAQ spreadsheet (CSV) to the knowledge base's FAQ YAML."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from nlu.knowledge.loader import _ID


class CsvImportError(ValueError):
    """The CSV cannot be imported; the message says why (and where)."""


def read_csv(path: str | Path) -> tuple[list[dict[str, str]], list[str]]:
    """Rows as dicts and the header; the delimiter (, ; tab |) is detected."""
    text = Path(path).read_text(encoding="utf-8-sig")
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = list(reader.fieldnames or [])
    return [{k: (v or "") for k, v in row.items() if k is not None} for row in reader], header


def faq_from_rows(
    rows: Iterable[dict[str, str]], header: list[str], *, file: str, id_col: str,
    question_col: str, answer_col: str,
) -> list[dict[str, Any]]:  # fmt: skip
    for col in (id_col, question_col, answer_col):
        if col not in header:
            raise CsvImportError(f"{file}:1: no column {col!r} (columns: {', '.join(header)})")
    entries: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=2):
        ident = row[id_col].strip()
        question = " ".join(row[question_col].split())
        answer = row[answer_col].strip()
        if not ident and not question and not answer:
            continue
        if not ident or not question or not answer:
            missing = [c for c, v in ((id_col, ident), (question_col, question),
                                      (answer_col, answer)) if not v]  # fmt: skip
            raise CsvImportError(f"{file}:{number}: empty {', '.join(missing)}")
        if not _ID.match(ident):
            raise CsvImportError(f"{file}:{number}: id {ident!r}: letters, digits and _ . : - only")
        if ident in seen:
            raise CsvImportError(f"{file}:{number}: id {ident} repeats line {seen[ident]}")
        seen[ident] = number
        entries.append({"id": ident, "question": question, "answer": answer})
    return entries


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def faq_yaml(entries: list[dict[str, Any]]) -> str:
    body = yaml.dump({"faq": entries}, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     width=100)  # fmt: skip
    return (
        "# FAQ for the knowledge base (docs/knowledge.md), imported by frontdesk kb import\n" + body
    )
