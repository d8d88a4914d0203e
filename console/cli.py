"""``frontdesk console add-user|rebuild``: create or change a console user (the password asked
twice, or read from standard input), and rebuild the console's figures from the store. The
composition root registers them and gives the settings loader."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Callable
from typing import Any, Protocol

from console.settings import ConsoleSettings
from gateway.settings import StoreSettings


class Configured(Protocol):
    """The settings the commands read (the whole configuration has them)."""

    @property
    def console(self) -> ConsoleSettings: ...

    @property
    def store(self) -> StoreSettings: ...


Loader = Callable[[str | None], Configured]  # --config (or None) -> the settings


def cmd_console(args: argparse.Namespace, load: Loader) -> int:
    settings = load(args.config)
    if args.console_command == "add-user":
        return _add_user(settings.console.users_file, args)
    if settings.store.url.startswith("memory://"):
        print("store.url is memory://: the console's figures live only inside the running "
              "process", file=sys.stderr)  # fmt: skip
        return 1
    return asyncio.run(_rebuild(settings.store.url, settings.store.transcript_retention))


def _add_user(users_file: str, args: argparse.Namespace) -> int:
    from console.users import UserError, save_user

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {args.name}: ")
        if getpass.getpass("Again: ") != password:
            print("the two passwords differ; nothing was written", file=sys.stderr)
            return 1
    try:
        user = save_user(users_file, args.name, args.role, password)
    except UserError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(
        f"{user.name} ({user.role}) written to {users_file}; a running gateway reads it at "
        "the next login"
    )
    return 0


async def _rebuild(url: str, retention: float) -> int:
    from console.rebuild import rebuild
    from gateway.store import open_store

    store = open_store(url)
    try:
        done = await rebuild(getattr(store, "redis"), retention=retention)  # noqa: B009
    finally:
        await store.close()
    print(
        f"rebuilt the console's figures from {done['conversations']} conversations and "
        f"{done['handoff_records']} handoff records"
    )
    return 0


def add_commands(subparsers: Any, load: Loader) -> None:
    """``frontdesk console add-user|rebuild``."""
    text = "the admin console at /console: users and figures"
    console = subparsers.add_parser("console", help=text, description=text)
    sub = console.add_subparsers(dest="console_command", required=True)
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("--config", help="configuration file (default: ./config.yml if present)")
    add = sub.add_parser(
        "add-user",
        parents=[config],
        help="add a user to console.users_file, or change their password/role",
    )
    add.add_argument("name")
    add.add_argument("--role", choices=("viewer", "admin"), default="viewer")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (for scripts)",
    )
    sub.add_parser(
        "rebuild",
        parents=[config],
        help="rebuild the figures from the transcripts and handoff records",
    )
    console.set_defaults(func=lambda args: cmd_console(args, load))
