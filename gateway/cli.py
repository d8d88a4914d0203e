"""The ``frontdesk`` command line: run, chat, validate, dlq, telegram, nlu, stats, customer…"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from gateway.config import ConfigError, Settings, load_settings
from gateway.logging import configure_logging

DEFAULT_CONFIG = "config.yml"


def load_cli_settings(path: str | None) -> Settings:
    """``--config`` if given; else ./config.yml if present; else the embedded defaults."""
    if path is None and Path(DEFAULT_CONFIG).exists():
        path = DEFAULT_CONFIG
    return load_settings(path)


def cmd_run(args: argparse.Namespace) -> int:
    from gateway.app import create_app

    settings = load_cli_settings(args.config)
    configure_logging(settings.log.level, settings.log.format)
    app = create_app(settings)
    host = args.host or settings.server.host
    port = args.port if args.port is not None else settings.server.port
    web.run_app(app, host=host, port=port, print=None, shutdown_timeout=5.0)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from gateway.chat import chat

    settings = load_cli_settings(args.config)
    configure_logging("warning", "console")
    return asyncio.run(chat(settings, debug=args.debug))


def cmd_validate(args: argparse.Namespace) -> int:
    """Configuration, then dialogs and NLU data: every problem as ``file:line: message``."""
    from dialogs.cli import validate_dialogs
    from nlu.cli import validate_nlu

    try:
        settings = load_cli_settings(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem)
        return 1
    problems = []
    if settings.dialogs.enabled:  # the NLU data serves the dialogs
        problems += validate_nlu(settings, config_file=args.config or DEFAULT_CONFIG)
        problems += validate_dialogs(settings)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print("ok: no problems found")
    return 0


async def _dlq(settings: Settings, action: str, letter_id: str | None) -> int:
    from gateway.store import open_store

    store = open_store(settings.store.url)
    try:
        if action == "list":
            letters = await store.dead_letters()
            for letter in letters:
                when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(letter.failed_at))
                print(
                    json.dumps(
                        {
                            "id": letter.id,
                            "direction": "inbound" if letter.lane == "turns" else "outbound",
                            "conversation": letter.key,
                            "failed_at": when,
                            "attempts": letter.attempts,
                            "error": letter.error,
                        }
                    )
                )
            if not letters:
                print("the dead-letter queue is empty", file=sys.stderr)
            return 0
        assert letter_id is not None
        requeued = await store.requeue_dead_letter(letter_id)
        if requeued is None:
            print(f"no dead letter with id {letter_id}", file=sys.stderr)
            return 1
        what = "processes" if requeued.lane == "turns" else "sends"
        print(f"requeued {requeued.id} for {requeued.key}: a running gateway {what} it now")
        return 0
    finally:
        await store.close()


def shared_store_missing(settings: Settings, what: str) -> bool:
    """True (and says why) when ``store.url`` is in-process, so ``what`` cannot be reached
    from another command."""
    if not settings.store.url.startswith("memory://"):
        return False
    print(f"store.url is memory://: {what} live only inside the running process", file=sys.stderr)
    return True


def cmd_dlq(args: argparse.Namespace) -> int:
    settings = load_cli_settings(args.config)
    if shared_store_missing(settings, "dead letters"):
        return 1
    return asyncio.run(_dlq(settings, args.dlq_action, getattr(args, "id", None)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="frontdesk", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--config", help="configuration file (default: ./config.yml if present)")
        return p

    run = command("run", "serve webhooks and run workers in one process")
    run.add_argument("--host", help="override server.host")
    run.add_argument("--port", type=int, help="override server.port")
    run.set_defaults(func=cmd_run)

    chat_cmd = command("chat", "talk to the bot in the terminal through the real pipeline")
    chat_cmd.add_argument(
        "--debug",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="show intent, confidence, entities and flow/step beside each reply (default: on)",
    )
    chat_cmd.set_defaults(func=cmd_chat)
    command(
        "validate", "check the configuration; print problems as file:line: message"
    ).set_defaults(func=cmd_validate)
    dlq = command("dlq", "inspect and re-send dead letters")
    dlq_sub = dlq.add_subparsers(dest="dlq_action", required=True)
    nested_config = argparse.ArgumentParser(add_help=False)
    nested_config.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    dlq_sub.add_parser("list", help="list dead letters, oldest first", parents=[nested_config])
    retry = dlq_sub.add_parser(
        "retry", help="put a dead letter back in its outbox", parents=[nested_config]
    )
    retry.add_argument("id")
    dlq.set_defaults(func=cmd_dlq)

    from channels.telegram_cli import add_commands as add_telegram_commands
    from dialogs.cli import add_commands as add_dialog_commands
    from gateway.handoff.cli import add_commands as add_handoff_commands
    from gateway.privacy.cli import add_commands as add_privacy_commands
    from gateway.review.cli import add_commands as add_review_commands
    from nlu.cli import add_commands as add_nlu_commands
    from nlu.knowledge.cli import add_commands as add_kb_commands

    add_telegram_commands(sub)
    add_dialog_commands(sub)
    add_nlu_commands(sub)
    add_handoff_commands(sub)
    add_privacy_commands(sub)
    add_kb_commands(sub)
    add_review_commands(sub)
    from console.cli import add_commands as add_console_commands  # the console sits on top

    add_console_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
