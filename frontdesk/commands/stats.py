"""``frontdesk stats``: a readable summary of handoffs for a period, from the store."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from typing import Any

from gateway.handoff.stats import describe, summarise
from gateway.handoff.store import handoff_store
from gateway.review import review_inbox
from gateway.review.record import describe_knowledge, knowledge_summary

_PERIOD = re.compile(r"^(\d+(?:\.\d+)?)([mhdw])$")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def period_seconds(text: str) -> float:
    """``30m``, ``24h``, ``7d``, ``2w`` in seconds."""
    match = _PERIOD.match(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a period: {text!r} (use e.g. 30m, 24h, 7d, 2w)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def add_commands(subparsers: Any) -> None:
    """Add ``stats`` to the ``frontdesk`` command line."""
    stats = subparsers.add_parser(
        "stats",
        help="summarise handoffs for a period",
        description="Handoffs by trigger, time to claim, time to first agent reply, handoff "
        "duration, outcomes, satisfaction ratings and bot containment for a period.",
    )
    stats.add_argument("--config", help="configuration file (default: ./config.yml if present)")
    stats.add_argument(
        "--since", type=period_seconds, default=period_seconds("7d"), help="period (default 7d)"
    )
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(func=cmd_stats)


def cmd_stats(args: argparse.Namespace) -> int:
    from frontdesk.commands import shared_store_missing
    from frontdesk.config import load_cli_settings

    settings = load_cli_settings(args.config)
    if shared_store_missing(settings, "statistics"):
        return 1
    return asyncio.run(print_stats(settings.store.url, args.since, as_json=args.json))


async def print_stats(url: str, since: float, *, as_json: bool = False) -> int:
    from gateway.store import open_store

    store = open_store(url)
    try:
        until = time.time()
        summary = await summarise(handoff_store(store), until - since, until)
        knowledge = knowledge_summary(await review_inbox(store).counts(until - since, until))
    finally:
        await store.close()
    if as_json:
        print(json.dumps({**summary.as_dict(), "knowledge": knowledge}, indent=2))
    else:
        print(describe(summary) + "\n" + describe_knowledge(knowledge))
    return 0
