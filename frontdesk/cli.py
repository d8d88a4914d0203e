"""The ``frontdesk`` command line: run, chat, validate, dlq, telegram, nlu, stats, customer…"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import os
import sys
import time
from collections.abc import Sequence

from aiohttp import web

from common import heap
from common.logging import configure_logging
from common.settings import ConfigError
from frontdesk.commands import shared_store_missing
from frontdesk.config import DEFAULT_CONFIG, Settings, load_cli_settings


def cmd_run(args: argparse.Namespace) -> int:
    from frontdesk.app import create_app

    settings = load_cli_settings(args.config)
    configure_logging(settings.log.level, settings.log.format)
    host = args.host or settings.server.host
    port = args.port if args.port is not None else settings.server.port
    if args.processes > 1 or args.ingest_processes > 0:
        return _run_processes(args, settings, host, port)
    overrides = {"role": args.role, "metrics_port": args.metrics_port}
    server = settings.server.model_copy(
        update={k: v for k, v in overrides.items() if v is not None}
    )
    settings = settings.model_copy(update={"server": server})
    role = server.role
    why = "the other role runs in another process"
    if role != "all" and _in_process_store(settings, f"--role {role}", why):
        return 1
    app = create_app(settings)
    app.on_startup.append(_settle_heap)  # after the app's own start-up: the bot is built
    if role == "workers":
        from frontdesk.commands.workers import serve_workers

        event_loop().run_until_complete(serve_workers(app, host, server))
        return 0
    try:
        web.run_app(
            app,
            host=host,
            port=port,
            print=None,
            shutdown_timeout=5.0,
            reuse_port=args.reuse_port,
            loop=event_loop(),
        )
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        reason = "the port is taken (another frontdesk run?); pick one with --port or server.port"
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {reason}") from exc
    return 0


async def _settle_heap(app: web.Application) -> None:
    heap.settle()  # short collector pauses from now on (common/heap.py)


def event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when it is installed (a third less CPU per turn, docs/architecture.md), unless
    ``FRONTDESK_EVENT_LOOP=asyncio`` asks for the standard loop."""
    if os.environ.get("FRONTDESK_EVENT_LOOP", "uvloop") != "asyncio":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def _in_process_store(settings: Settings, option: str, why: str) -> bool:
    """True (and says so) when ``option`` needs a store shared between processes and
    ``store.url`` is in-process."""
    if not settings.store.url.startswith("memory:"):
        return False
    print(f"frontdesk run: {option} needs a shared store (store.url: redis://...): {why}",
          file=sys.stderr)  # fmt: skip
    return True


def _run_processes(args: argparse.Namespace, settings: Settings, host: str, port: int) -> int:
    from frontdesk.commands.processes import child_command, supervise

    if _in_process_store(settings, "--processes", "each process would have its own memory store"):
        return 1
    if port == 0:
        print("frontdesk run: --processes needs a fixed port (they all listen on it)",
              file=sys.stderr)  # fmt: skip
        return 1
    ingest = args.ingest_processes
    if ingest and ingest >= args.processes:
        print("frontdesk run: --ingest-processes must be fewer than --processes "
              "(the rest run the workers)", file=sys.stderr)  # fmt: skip
        return 1
    grace = settings.workers.shutdown_grace + 10.0
    if ingest:  # K accept webhooks on the port, the other N - K only run the workers
        commands = [child_command(args.config, host, port, "ingest")] * ingest
        base = settings.server.metrics_port  # the i-th workers process: base + i
        commands += [
            child_command(args.config, host, port, "workers", base + i if base else None)
            for i in range(args.processes - ingest)
        ]
    else:
        commands = [child_command(args.config, host, port, args.role)] * args.processes
    return supervise(commands, grace)


def cmd_chat(args: argparse.Namespace) -> int:
    from frontdesk.chat import chat

    settings = load_cli_settings(args.config)
    configure_logging("warning", "console")
    return asyncio.run(chat(settings, debug=args.debug))


def cmd_validate(args: argparse.Namespace) -> int:
    """Configuration, then dialogs and NLU data: every problem as ``file:line: message``."""
    from frontdesk.commands.dialogs import validate_dialogs
    from frontdesk.commands.nlu import validate_nlu

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
    run.add_argument(
        "--processes",
        type=int,
        default=1,
        help="gateway processes sharing the port (SO_REUSEPORT) and the Redis store; "
        "one per core uses a whole host (default 1)",
    )
    run.add_argument(
        "--ingest-processes",
        type=int,
        default=0,
        metavar="K",
        help="of the --processes, K only accept webhooks and the rest only run the workers, "
        "so acknowledgements never wait behind turns (default 0: every process does both)",
    )
    run.add_argument(
        "--role",
        choices=["all", "ingest", "workers"],
        help="override server.role: ingest = accept webhooks only; workers = run turns and "
        "sends only, no HTTP listener (both need a Redis store)",
    )
    run.add_argument(
        "--metrics-port",
        type=int,
        metavar="P",
        help="with --role workers: serve /healthz, /readyz and /metrics on P "
        "(server.metrics_port; default none)",
    )
    run.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
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

    from frontdesk.commands.customer import add_commands as add_privacy_commands
    from frontdesk.commands.dialogs import add_commands as add_dialog_commands
    from frontdesk.commands.kb import add_commands as add_kb_commands
    from frontdesk.commands.nlu import add_commands as add_nlu_commands
    from frontdesk.commands.review import add_commands as add_review_commands
    from frontdesk.commands.stats import add_commands as add_handoff_commands
    from frontdesk.commands.telegram import add_commands as add_telegram_commands

    add_telegram_commands(sub)
    add_dialog_commands(sub)
    add_nlu_commands(sub)
    add_handoff_commands(sub)
    add_privacy_commands(sub)
    add_kb_commands(sub)
    add_review_commands(sub)
    from console.cli import add_commands as add_console_commands

    add_console_commands(sub, load_cli_settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except OSError as exc:  # a busy port, a missing file: one line, not a traceback
        print(f"frontdesk {args.command}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
