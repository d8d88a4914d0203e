"""The ``frontdesk nlu`` commands (eval, parse, import) and the NLU part of ``frontdesk
validate``. ``add_commands`` hooks them into the main parser; ``main`` runs them alone."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from common.logging import configure_logging
from common.settings import ConfigProblem
from frontdesk.config import Settings
from nlu.importer import read_any, to_yaml
from nlu.model import TrainOptions, load_or_train, resolve_paths

DEFAULT_CONFIG = "config.yml"


def validate_nlu(settings: Settings, *, config_file: str = DEFAULT_CONFIG) -> list[ConfigProblem]:
    """Every problem in the NLU training data named by ``nlu.data``, as ``file:line``."""
    min_examples = settings.nlu.min_examples
    paths = resolve_paths(settings.nlu.data)
    if not paths:
        if settings.nlu.backend == "rasa" and settings.nlu.fallback == "none":
            return []
        globs = ", ".join(settings.nlu.data)
        message = f"nlu.data: no training data file matches {globs}: nothing will be understood"
        return [ConfigProblem(config_file, 1, message)]
    return read_any(paths, min_examples=min_examples).problems


def _settings(path: str | None) -> Settings:
    from frontdesk.config import load_cli_settings

    configure_logging("warning", "console")  # logs to stderr: stdout is the command's output
    return load_cli_settings(path)


def _options(args: argparse.Namespace, settings: Settings) -> TrainOptions:
    return TrainOptions(
        classifier=args.classifier or settings.nlu.classifier,
        novelty=args.novelty or settings.nlu.novelty,
        confidence=args.confidence or settings.nlu.confidence,
        tuning=args.tuning or settings.nlu.tuning,
        text_column=args.text,
        intent_columns=tuple(c.strip() for c in args.intent.split(",") if c.strip()),
    )


def _model_dir(args: argparse.Namespace, settings: Settings) -> str:
    return "" if args.no_cache else settings.nlu.model_dir


def cmd_eval(args: argparse.Namespace) -> int:
    from nlu.advice import advice
    from nlu.evaluate import cross_validate, evaluate, format_report

    settings = _settings(args.config)
    options = _options(args, settings)
    threshold = settings.nlu.threshold if args.threshold is None else args.threshold
    if args.test:
        nlu = load_or_train(
            args.train, model_dir=_model_dir(args, settings), threshold=threshold, options=options
        )
        test_paths = resolve_paths(args.test)
        test = read_any(
            test_paths, text_column=options.text_column, intent_columns=options.intent_columns,
            min_examples=1,
        )  # fmt: skip
        report = evaluate(nlu, test)
        examples = test.examples
        data = read_any(
            resolve_paths(args.train), text_column=options.text_column,
            intent_columns=options.intent_columns,
        )  # fmt: skip
    else:
        data = read_any(
            resolve_paths(args.train), text_column=options.text_column,
            intent_columns=options.intent_columns,
        )  # fmt: skip
        report = cross_validate(data, folds=args.folds, options=options, threshold=threshold)
        examples = data.examples
    hints = advice(data, examples, report.predicted)
    if args.json:
        print(json.dumps({**report.as_json(), "advice": hints}, indent=1))
    else:
        mode = "held-out test set" if args.test else f"{args.folds}-fold cross-validation"
        tuned = ", encoder tuned" if options.tuning == "contrastive" else ""
        if options.classifier not in ("hybrid", "embeddings"):
            tuned = ""
        print(f"# {mode}, classifier {options.classifier}{tuned}, threshold {threshold}")
        print(format_report(report, per_intent=not args.summary))
        if hints:
            print("\nwhat to fix in the training data\n" + "\n".join(hints))
    if args.floor is not None and report.accuracy < args.floor:
        print(
            f"intent accuracy {report.accuracy:.2%} is below the floor {args.floor:.2%}",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_parse(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    options = _options(args, settings)
    source = args.train or settings.nlu
    nlu = load_or_train(
        source, model_dir=_model_dir(args, settings), threshold=settings.nlu.threshold,
        options=options,
    )  # fmt: skip
    if not sys.stdin.isatty():  # a file or a pipe: parse it as one batch (encoded together)
        texts = [t for t in (line.rstrip("\n") for line in sys.stdin) if t.strip()]
        for result in nlu.parse_many(texts):
            print(json.dumps(result.as_json(), ensure_ascii=False))
        return 0
    for line in sys.stdin:
        text = line.rstrip("\n")
        if text.strip():
            print(json.dumps(nlu.parse(text).as_json(), ensure_ascii=False), flush=True)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    configure_logging("warning", "console")
    intents = tuple(c.strip() for c in args.intent.split(",") if c.strip())
    data = read_any(args.files, text_column=args.text, intent_columns=intents, min_examples=1)
    for problem in data.problems:
        print(problem, file=sys.stderr)
    if not data.examples:
        print("no examples read", file=sys.stderr)
        return 1
    text = to_yaml(data)
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(
            f"wrote {len(data.examples)} examples of {len(data.intents)} intents to {args.output}",
            file=sys.stderr,
        )
    return 0


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``nlu eval``, ``nlu parse`` and ``nlu import`` to the ``frontdesk`` parser."""
    nlu = subparsers.add_parser("nlu", help="train, evaluate and try the built-in NLU")
    sub = nlu.add_subparsers(dest="nlu_command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--config", help="configuration file (default: ./config.yml if present)")
        return p

    def training(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--classifier",
            choices=("static", "tfidf", "embeddings", "hybrid"),
            default=None,
            help="tfidf (default): TF-IDF n-grams; static: + the word-piece embedding shipped in "
            "the package; hybrid / embeddings: + the MiniLM sentence encoder shipped in the "
            "package (weight 2 / 1; about a millisecond a message)",
        )
        p.add_argument(
            "--confidence",
            choices=("inscope", "temperature"),
            default=None,
            help="inscope (default): the confidence is a calibrated chance of being right; "
            "temperature: the top intent's probability (before 0.2)",
        )
        p.add_argument(
            "--tuning",
            choices=("contrastive", "none"),
            default=None,
            help="contrastive: tune the sentence encoder's top layers on the examples before "
            "fitting (hybrid/embeddings); none (default): the encoder as shipped",
        )
        p.add_argument(
            "--novelty",
            choices=("none", "embeddings"),
            default=None,
            help="out-of-scope novelty score from sentence embeddings (needs the extra)",
        )
        p.add_argument("--text", default="text", help="CSV column of the text (default: text)")
        p.add_argument(
            "--intent",
            default="intent",
            help="CSV column(s) of the intent; several, comma-separated, are joined with _ "
            "(default: intent)",
        )
        p.add_argument("--no-cache", action="store_true", help="do not read or write nlu.model_dir")

    ev = command("eval", "train on --train and report intent figures on --test")
    ev.add_argument("--train", nargs="+", required=True, help="Rasa YAML, CSV or SNIPS JSON files")
    ev.add_argument("--test", nargs="+", help="test files; without: cross-validation of --train")
    ev.add_argument("--folds", type=int, default=5, help="cross-validation folds (default: 5)")
    ev.add_argument("--threshold", type=float, help="override nlu.threshold")
    ev.add_argument("--json", action="store_true", help="machine-readable output")
    ev.add_argument("--summary", action="store_true", help="leave out the per-intent table")
    ev.add_argument("--floor", type=float, help="exit 1 when the accuracy is below (0-1)")
    training(ev)
    ev.set_defaults(func=cmd_eval)

    pa = command("parse", "parse one message per line of stdin into one JSON per line")
    pa.add_argument("--train", nargs="+", help="train on these files (default: nlu.data)")
    training(pa)
    pa.set_defaults(func=cmd_parse)

    im = command("import", "convert CSV (or SNIPS JSON) training data to Rasa NLU YAML")
    im.add_argument("files", nargs="+", metavar="FILE.csv")
    im.add_argument("--text", required=True, help="column of the example text")
    im.add_argument(
        "--intent",
        required=True,
        help="column(s) of the intent, comma-separated to join several with _",
    )
    im.add_argument("-o", "--output", help="output file (default: standard output)")
    im.set_defaults(func=cmd_import)
