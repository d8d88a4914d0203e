"""The ``frontdesk review`` commands: list the review inbox, label an item, apply the labels
to the NLU and FAQ data (showing the diff, refusing what ``frontdesk validate`` would)."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.settings import ConfigProblem
from console.wiring import ApplyLabels, ApplyOutcome
from frontdesk.config import Settings
from gateway.review.apply import Plan, plan
from gateway.review.inbox import ReviewInbox, review_inbox

_SPAN = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str) -> float:
    m = _SPAN.match(text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r}: a span such as 30m, 12h, 7d, 2w")
    return float(m.group(1)) * _UNIT[m.group(2)]


def check(plan_: Plan, settings: Settings) -> list[ConfigProblem]:
    """What ``frontdesk validate`` would say about the data after the plan, run on copies."""
    from frontdesk.commands.dialogs import validate_dialogs
    from frontdesk.commands.nlu import validate_nlu

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        mapping: dict[str, str] = {}

        def copy(path: Path) -> Path:
            target = root / path.resolve().relative_to(path.resolve().anchor)
            target.parent.mkdir(parents=True, exist_ok=True)
            mapping[str(target)] = str(path)
            return target

        dialogs = Path(settings.dialogs.path)
        kb = Path(settings.knowledge.folder(settings.dialogs.path))
        new_dialogs = copy(dialogs)
        if dialogs.exists():
            shutil.copytree(dialogs, new_dialogs, dirs_exist_ok=True)
        new_kb = copy(kb)
        if kb.exists():
            shutil.copytree(kb, new_kb, dirs_exist_ok=True)
        from nlu.model import resolve_paths

        nlu = []
        for path in resolve_paths(settings.nlu.data):
            target = copy(path)
            shutil.copy(path, target)
            nlu.append(str(target))
        for path, text in plan_.texts.items():
            copy(path).write_text(text, encoding="utf-8")
        trial = settings.model_copy(
            update={
                "dialogs": settings.dialogs.model_copy(update={"path": str(new_dialogs)}),
                "nlu": settings.nlu.model_copy(update={"data": tuple(nlu)}),
                "knowledge": settings.knowledge.model_copy(
                    update={"path": str(new_kb), "encoder": "none"}
                ),
            }
        )
        problems = validate_nlu(trial) + validate_dialogs(trial)

        def real(file: str) -> str:
            for copied, original in sorted(mapping.items(), key=lambda m: -len(m[0])):
                if file.startswith(copied):
                    return original + file[len(copied) :]
            return file

        return [ConfigProblem(real(p.file), p.line, p.message) for p in problems]


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(at))


async def _list(inbox: ReviewInbox, since: float, as_json: bool, show_all: bool) -> int:
    items = await inbox.items(time.time() - since)
    if not show_all:
        items = [i for i in items if not i.applied and "ignore" not in (i.label or {})]
    for item in items:
        if as_json:
            print(json.dumps(item.as_json(), ensure_ascii=False))
            continue
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(item.kinds.items()))
        guesses = ", ".join(f"{n} {s:.2f}" for n, s in item.guesses) or "none"
        label = f"  label: {json.dumps(item.label)}" if item.label else ""
        print(f"{item.id}  x{item.count}  {item.text!r}")
        print(f"    {kinds}; first {_when(item.first_seen)}, last {_when(item.last_seen)}; "
              f"guesses: {guesses}{label}")  # fmt: skip
        print(f"    conversations: {', '.join(item.conversations)}")
    if not items and not as_json:
        print("the review inbox is empty", file=sys.stderr)
    return 0


async def _label(inbox: ReviewInbox, args: argparse.Namespace) -> int:
    label: dict[str, Any]
    if args.intent:
        label = {"intent": args.intent}
    elif args.faq:
        label = {"faq": args.faq}
    elif args.new_faq:
        label = {"new_faq": {"answer": args.answer, "id": args.faq_id}}
    else:
        label = {"ignore": True}
    if not await inbox.label(args.id, label):
        print(f"no review item {args.id}", file=sys.stderr)
        return 1
    print(f"{args.id}: {json.dumps(label)}")
    return 0


async def _approve(inbox: ReviewInbox, args: argparse.Namespace) -> int:
    item = await inbox.get(args.id)
    label = dict(item.label or {}) if item is not None else {}
    if item is None or not label.get("draft"):
        print(f"no draft with id {args.id} (drafts come from Teach the bot)", file=sys.stderr)
        return 1
    spec = dict(label.get("new_faq") or {})
    if args.answer:
        spec["answer"] = args.answer
    if args.faq_id:
        spec["id"] = args.faq_id
    await inbox.label(args.id, {"new_faq": spec})
    print(f"{args.id}: approved; frontdesk review apply writes it: {item.text!r} -> "
          f"{spec.get('answer')!r}")  # fmt: skip
    return 0


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying the labels did: the plan (diff, skipped items), the problems that refused
    it, and whether the files were written."""

    plan: Plan
    diff: str  # taken before anything was written
    problems: list[ConfigProblem]
    written: bool


async def apply_labels(inbox: ReviewInbox, settings: Settings, *, dry_run: bool) -> Applied:
    """Plan the labelled items' edits, check them as ``frontdesk validate`` would, and unless
    ``dry_run`` or refused write the files and mark the items applied (``frontdesk review
    apply`` and the console's Apply button)."""
    from nlu.model import resolve_paths

    items = await inbox.items()
    kb = Path(settings.knowledge.folder(settings.dialogs.path))
    changes: Plan = plan(items, resolve_paths(settings.nlu.data), kb)
    problems = check(changes, settings) if changes.texts else []
    diff = changes.diff()
    if dry_run or problems or (not changes.texts and not changes.done):
        return Applied(changes, diff, problems, False)
    for path, text in changes.texts.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for ident in changes.done:
        await inbox.mark_applied(ident)
    return Applied(changes, diff, problems, True)


def apply_for_console(settings: Settings) -> ApplyLabels:
    """:func:`apply_labels` for the admin console's Apply button."""

    async def apply(inbox: ReviewInbox, dry_run: bool) -> ApplyOutcome:
        applied = await apply_labels(inbox, settings, dry_run=dry_run)
        return ApplyOutcome(
            diff=applied.diff,
            problems=[str(p) for p in applied.problems],
            written=applied.written,
            done=list(applied.plan.done),
            skipped=list(applied.plan.skipped),
            files=sorted(str(p) for p in applied.plan.texts),
        )

    return apply


async def _apply(inbox: ReviewInbox, settings: Settings, dry_run: bool) -> int:
    applied = await apply_labels(inbox, settings, dry_run=dry_run)
    changes = applied.plan
    for why in changes.skipped:
        print(f"skipped {why}", file=sys.stderr)
    if not changes.texts and not changes.done:
        print("nothing to apply", file=sys.stderr)
        return 0
    print(applied.diff, end="")
    if applied.problems:
        for problem in applied.problems:
            print(problem, file=sys.stderr)
        print("refused: frontdesk validate would reject this; nothing was written",
              file=sys.stderr)  # fmt: skip
        return 1
    if dry_run:
        return 0
    print(f"applied {len(changes.done)} item(s) to {len(changes.texts)} file(s); a running "
          "gateway reloads them (hot reload)", file=sys.stderr)  # fmt: skip
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from common.logging import configure_logging
    from frontdesk.commands import shared_store_missing
    from frontdesk.config import load_cli_settings
    from gateway.store import open_store

    configure_logging("warning", "console")
    settings = load_cli_settings(args.config)
    if shared_store_missing(settings, "the review inbox"):
        return 1

    async def run() -> int:
        store = open_store(settings.store.url)
        try:
            inbox = review_inbox(store)
            if args.review_command == "list":
                return await _list(inbox, args.since, args.json, args.all)
            if args.review_command == "label":
                return await _label(inbox, args)
            if args.review_command == "approve":
                return await _approve(inbox, args)
            return await _apply(inbox, settings, args.dry_run)
        finally:
            await store.close()

    return asyncio.run(run())


def add_commands(subparsers: Any) -> None:
    """``frontdesk review list|label|apply``."""
    text = "the review inbox: messages the bot missed, to label and apply to the data"
    review = subparsers.add_parser("review", help=text, description=text)
    sub = review.add_subparsers(dest="review_command", required=True)
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("--config", help="configuration file (default: ./config.yml if present)")
    ls = sub.add_parser("list", parents=[config], help="items, most frequent first")
    ls.add_argument("--since", type=parse_since, default=parse_since("7d"),
                    help="last seen within this span (default 7d)")  # fmt: skip
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    ls.add_argument("--all", action="store_true", help="also applied and ignored items")
    label = sub.add_parser("label", parents=[config], help="say what an item should become")
    label.add_argument("id")
    what = label.add_mutually_exclusive_group(required=True)
    what.add_argument("--intent", help="an example of this intent (NLU YAML)")
    what.add_argument("--faq", help="a phrasing of this FAQ entry")
    what.add_argument("--new-faq", action="store_true", help="a new FAQ entry (with --answer)")
    what.add_argument("--ignore", action="store_true", help="nothing: hide it")
    label.add_argument("--answer", help="the new FAQ entry's answer")
    label.add_argument("--faq-id", help="the new FAQ entry's id (default: from its words)")
    approve = sub.add_parser("approve", parents=[config],
                             help="approve a draft FAQ entry from Teach the bot")  # fmt: skip
    approve.add_argument("id")
    approve.add_argument("--answer", help="a better answer than the agent's")
    approve.add_argument("--faq-id", help="the entry's id (default: from its words)")
    apply = sub.add_parser("apply", parents=[config], help="write the labels into the data")
    apply.add_argument("--dry-run", action="store_true", help="show the diff, write nothing")
    review.set_defaults(func=cmd_review)
