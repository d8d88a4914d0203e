"""The ``frontdesk kb`` commands: import an FAQ spreadsheet, ask the knowledge base
questions (one JSON line each), evaluate it on labelled questions."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from frontdesk.config import Settings


def _settings(path: str | None) -> Settings:
    from common.logging import configure_logging
    from frontdesk.config import load_cli_settings

    configure_logging("warning", "console")  # logs to stderr: stdout is the command's output
    return load_cli_settings(path)


def _open(args: argparse.Namespace) -> Any:
    from nlu.knowledge.base import open_knowledge

    settings = _settings(args.config)
    folder = args.kb or settings.knowledge.folder(settings.dialogs.path)
    kb, problems = open_knowledge(folder, settings.knowledge, threshold=args.threshold)
    for problem in problems:
        print(problem, file=sys.stderr)
    if kb is not None and not kb.entries:
        print(f"{folder}: no knowledge base entries (FAQ *.yml, articles *.md)", file=sys.stderr)
        return None
    return kb


def cmd_import(args: argparse.Namespace) -> int:
    from nlu.knowledge.importer import CsvImportError, faq_from_rows, faq_yaml, read_csv

    try:
        rows, header = read_csv(args.file)
        entries = faq_from_rows(rows, header, file=args.file, id_col=args.id,
                                question_col=args.question, answer_col=args.answer)  # fmt: skip
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{args.file}:1: cannot read: {exc}", file=sys.stderr)
        return 1
    except CsvImportError as exc:
        print(exc, file=sys.stderr)
        return 1
    text = faq_yaml(entries)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"wrote {len(entries)} FAQ entries to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    kb = _open(args)
    if kb is None:
        return 1
    for line in sys.stdin:
        text = line.rstrip("\n")
        if not text.strip():
            continue
        print(json.dumps(kb.retriever.ask(text).as_json(), ensure_ascii=False), flush=True)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from nlu.knowledge.evaluate import evaluate, format_report
    from nlu.knowledge.importer import read_csv

    kb = _open(args)
    if kb is None:
        return 1
    try:
        rows, header = read_csv(args.test)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{args.test}:1: cannot read: {exc}", file=sys.stderr)
        return 1
    for col in (args.text, args.id):
        if col not in header:
            print(f"{args.test}:1: no column {col!r} (columns: {', '.join(header)})",
                  file=sys.stderr)  # fmt: skip
            return 1
    rows = [r for r in rows if r[args.text].strip()]
    texts = [r[args.text] for r in rows]
    gold = [frozenset(i.strip() for i in r[args.id].split(",") if i.strip()) for r in rows]
    unknown = sorted({i for g in gold for i in g} - set(kb.entries))
    if unknown:
        print(f"{args.test}: ids not in the knowledge base (questions it should not answer): "
              f"{', '.join(unknown[:10])}", file=sys.stderr)  # fmt: skip
    report = evaluate(kb.retriever, texts, gold)
    if args.json:
        print(json.dumps(report.as_json(), indent=1))
    else:
        print(format_report(report))
    return 0


def add_commands(subparsers: Any) -> None:
    """``frontdesk kb import|ask|eval``."""
    help_text = "the knowledge base: import an FAQ CSV, ask it questions, evaluate it"
    kb = subparsers.add_parser("kb", help=help_text, description=help_text)
    sub = kb.add_subparsers(dest="kb_command", required=True)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=text, description=text)
        p.add_argument("--config", help="configuration file (default: ./config.yml if present)")
        return p

    imp = command("import", "an FAQ spreadsheet (CSV) to FAQ YAML")
    imp.add_argument("file")
    imp.add_argument("--id", required=True, help="the column of the entry ids")
    imp.add_argument("--question", required=True, help="the column of the questions")
    imp.add_argument("--answer", required=True, help="the column of the answers")
    imp.add_argument("--out", "-o", help="the FAQ YAML file to write (default: stdout)")
    imp.set_defaults(func=cmd_import)

    for name, text in (
        ("ask", "one question per line on stdin, one JSON answer per line out"),
        ("eval", "top-1/top-3 hit rate and precision at the threshold on labelled questions"),
    ):
        p = command(name, text)
        p.add_argument("--kb", help="the knowledge folder (default: knowledge.path)")
        p.add_argument("--threshold", type=float, help="override knowledge.threshold")
        if name == "eval":
            p.add_argument("--test", required=True, help="a CSV of questions and their ids")
            p.add_argument("--text", required=True, help="the column of the questions")
            p.add_argument("--id", required=True, help="the column of the answering ids "
                           "(several comma-separated: any counts)")  # fmt: skip
            p.add_argument("--json", action="store_true", help="the report as JSON")
            p.set_defaults(func=cmd_eval)
        else:
            p.set_defaults(func=cmd_ask)
