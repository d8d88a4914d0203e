"""``frontdesk customer export|erase|erasures``: answer access and erasure requests."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from frontdesk.config import Settings


async def _export(settings: Settings, customer_id: str, out: str | None) -> int:
    from gateway.privacy import export_customer, resolve
    from gateway.store.redis import RedisStore

    store = RedisStore(settings.store.url)
    try:
        report = await export_customer(store, resolve(customer_id))
    finally:
        await store.close()
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if out:
        await asyncio.to_thread(Path(out).write_text, text + "\n", encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    else:
        print(text)
    return 0


async def _erase(settings: Settings, customer_id: str, wait: float) -> int:
    from gateway.privacy import erase_customer, resolve
    from gateway.store.redis import RedisStore

    store = RedisStore(settings.store.url)
    try:
        erasure = await erase_customer(store, resolve(customer_id), wait=wait)
    finally:
        await store.close()
    print(
        json.dumps(
            {"subject": erasure.subject, "at": erasure.at, "removed": erasure.counts},
            sort_keys=True,
        )
    )
    return 0


async def _erasures(settings: Settings) -> int:
    from gateway.privacy import erasures
    from gateway.store.redis import RedisStore

    store = RedisStore(settings.store.url)
    try:
        for e in await erasures(store):
            print(json.dumps({"subject": e.subject, "at": e.at, "removed": e.counts}))
    finally:
        await store.close()
    return 0


def cmd_customer(args: argparse.Namespace) -> int:
    from frontdesk.commands import shared_store_missing
    from frontdesk.config import load_cli_settings

    action: str = args.customer_action
    if action == "erase" and not args.yes:
        print(
            f"refusing to erase {args.id!r} without --yes (this cannot be undone;"
            " run `frontdesk customer export` first to see what would go)",
            file=sys.stderr,
        )
        return 2
    settings = load_cli_settings(getattr(args, "config", None))
    if shared_store_missing(settings, "customer data"):
        return 1
    try:
        if action == "export":
            return asyncio.run(_export(settings, args.id, args.out))
        if action == "erase":
            return asyncio.run(_erase(settings, args.id, args.wait))
        return asyncio.run(_erasures(settings))
    except (ValueError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    customer = sub.add_parser(
        "customer",
        help="export or erase everything stored about a customer",
        description="export or erase everything stored about a customer (docs/privacy.md)",
    )
    customer.add_argument("--config", help="configuration file (default: ./config.yml if present)")
    actions = customer.add_subparsers(dest="customer_action", required=True)
    nested = argparse.ArgumentParser(add_help=False)
    nested.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    who = "a phone number (any format), tel:+E164, a channel id (sms:…, telegram:42, api:user)"
    export = actions.add_parser("export", help="print a customer's data as JSON", parents=[nested])
    export.add_argument("id", help=who)
    export.add_argument("--out", help="write the JSON to this file instead of stdout")
    erase = actions.add_parser("erase", help="remove a customer's data", parents=[nested])
    erase.add_argument("id", help=who)
    erase.add_argument("--yes", action="store_true", help="really erase (required)")
    erase.add_argument(
        "--wait", type=float, default=60.0, help="seconds to wait for a turn in progress"
    )
    actions.add_parser("erasures", help="list erasure records (no personal data)", parents=[nested])
    customer.set_defaults(func=cmd_customer)
