"""The dialogs' part of the command line and of the gateway's wiring: ``frontdesk test``,
the dialog checks of ``frontdesk validate``, building the runner (and its hot reload) from
settings, and the ``frontdesk chat`` debug line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dialogs.base import Outcome, SystemEvent, TurnContext
from dialogs.knowledge import KnowledgeSpec
from dialogs.loader import load_bot, nlu_files
from dialogs.reload import DialogReloader
from dialogs.runner import DialogRunner
from dialogs.settings import DialogSettings
from dialogs.testing import report, run_tests
from gateway.config import ConfigError, ConfigProblem, Settings
from gateway.logging import get_logger
from gateway.messages import CustomerMessage
from nlu.result import NluBackend

ORDER_API_ENV = "FRONTDESK_ORDER_API"  # the example bot's order service URL


def dialog_settings(settings: Settings) -> DialogSettings:
    return settings.dialogs


def validate_dialogs(settings: Settings, env: dict[str, str] | None = None) -> list[ConfigProblem]:
    """Every problem of the dialog YAML, checked against the NLU data (``frontdesk validate``)."""
    ds = dialog_settings(settings)
    if not ds.enabled:
        return []
    knowledge = KnowledgeSpec.of(settings, use_encoder=False)
    files = nlu_files(settings.nlu.data)
    return load_bot(ds.path, nlu_data=files, env=env, knowledge=knowledge).problems


def build_nlu(settings: Settings) -> NluBackend:
    """The built-in NLU trained (or loaded from its cache) on ``nlu.data``."""
    from nlu.model import BuiltinBackend, load_or_train

    return BuiltinBackend(load_or_train(settings.nlu))


def build_dialog(
    settings: Settings, nlu: NluBackend, env: dict[str, str] | None = None
) -> DialogRunner:
    """The runner for ``dialogs.path``; raises ConfigError with every problem."""
    ds = dialog_settings(settings)
    knowledge = KnowledgeSpec.of(settings)
    result = load_bot(ds.path, nlu_data=nlu_files(settings.nlu.data), env=env, knowledge=knowledge)
    if result.bot is None:
        raise ConfigError(result.problems)
    return DialogRunner(result.bot, nlu, max_text_chars=settings.nlu.max_text_chars)


def build_reloader(
    settings: Settings,
    runner: DialogRunner,
    nlu_loader: Callable[[], NluBackend] | None = None,
    env: dict[str, str] | None = None,
) -> DialogReloader | None:
    """A reloader to ``start()`` after the runner, or None when ``dialogs.hot_reload`` is off."""
    ds = dialog_settings(settings)
    if not ds.hot_reload:
        return None
    return DialogReloader(
        runner,
        path=ds.path,
        nlu_data=settings.nlu.data,
        nlu_loader=nlu_loader,
        env=env,
        knowledge=KnowledgeSpec.of(settings),
    )


@dataclass(frozen=True, slots=True)
class DemoServices:
    """The example's fake order service, running; ``env`` points the dialog YAML at it."""

    runner: Any  # aiohttp's AppRunner, to cleanup()
    env: dict[str, str]


async def start_demo_services(settings: Settings) -> DemoServices | None:
    """Serve the example's fake order service when ``dialogs.demo_order_service`` is set.
    When its port is taken (say by a ``frontdesk chat`` already open), it is served on a free
    port instead and the dialog is pointed there: a busy port never stops the gateway."""
    url = dialog_settings(settings).demo_order_service
    if not url:
        return None
    from dialogs.example.order_service import address_of, bound_url, start_order_service

    host, port = address_of(url)
    try:
        runner = await start_order_service(host, port)
    except OSError as exc:
        runner = await start_order_service(host, 0)
        get_logger().warning(
            "demo_order_service_moved", wanted=url, url=bound_url(runner), reason=str(exc)
        )
    return DemoServices(runner=runner, env={**os.environ, ORDER_API_ENV: bound_url(runner)})


async def run_conversation_tests(
    settings: Settings,
    path: str | None = None,
    *,
    nlu: NluBackend | None = None,
    out: Callable[[str], None] = print,
) -> int:
    """Run the conversation tests; 0 when all pass. The example's order service is started on
    a free port for the run (its URL goes to the YAML as ${FRONTDESK_ORDER_API})."""
    from dialogs.example.order_service import bound_url, start_order_service

    ds = dialog_settings(settings)
    service = await start_order_service("127.0.0.1", 0)
    try:
        env = {**os.environ, ORDER_API_ENV: bound_url(service)}
        knowledge = KnowledgeSpec.of(settings)
        files = nlu_files(settings.nlu.data)
        result = load_bot(ds.path, nlu_data=files, env=env, knowledge=knowledge)
        if result.bot is None:
            for problem in result.problems:
                out(str(problem))
            return 1
        runner = DialogRunner(result.bot, nlu or build_nlu(settings), seed=0)
        try:
            results = await run_tests(runner, path or ds.tests_path)
        finally:
            await runner.close()
    finally:
        await service.cleanup()
    out(report(results))
    return 0 if results and all(r.ok for r in results) else 1


def cmd_test(args: argparse.Namespace) -> int:
    from gateway import cli
    from gateway.logging import configure_logging

    settings = cli.load_cli_settings(args.config)
    configure_logging("warning", "console")
    return asyncio.run(run_conversation_tests(settings, args.path))


def add_commands(subparsers: Any) -> None:
    """Add ``frontdesk test`` to the ``frontdesk`` parser's subcommands."""
    help_text = "run the conversation tests (YAML transcripts) through the engine and NLU"
    p = subparsers.add_parser("test", help=help_text, description=help_text)
    p.add_argument("--config", help="configuration file (default: ./config.yml if present)")
    p.add_argument(
        "path", nargs="?", help="a test file or directory (default: <dialogs.path>/tests)"
    )
    p.set_defaults(func=cmd_test)


# --------------------------------------------------------------------------- frontdesk chat


def format_debug(debug: Mapping[str, Any]) -> str:
    """One line for ``frontdesk chat``: why the bot answered as it did."""
    parts = []
    if debug.get("intent") is not None:
        parts.append(f"intent {debug['intent']} {debug.get('confidence') or 0:.2f}")
    elif debug.get("confidence") is not None:  # parsed, not understood: the best guess, if any
        ranking = debug.get("ranking") or []
        guess = f"; best guess {ranking[0][0]} {ranking[0][1]:.2f}" if ranking else ""
        parts.append(f"intent (not understood{guess})")
    if entities := debug.get("entities"):
        parts.append("entities " + ", ".join(f"{e['entity']}={e['value']}" for e in entities))
    if "sentiment" in debug:
        parts.append(f"sentiment {debug['sentiment']:+.2f}")
    if debug.get("flow"):
        parts.append(f"flow {debug['flow']} / {debug.get('step')}")
    if debug.get("handoff"):
        parts.append(f"handoff ({debug['handoff']})")
    return "     · " + " · ".join(parts) if parts else ""


class DebugTap:
    """Wraps a dialog and keeps each turn's ``Outcome.debug`` for ``frontdesk chat`` to
    print beside the replies (``await tap.debug.get()`` after a turn)."""

    def __init__(self, dialog: Any) -> None:
        self.dialog = dialog
        self.debug: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def respond(
        self,
        state: Mapping[str, Any],
        event: CustomerMessage | SystemEvent,
        context: TurnContext,
    ) -> Outcome:
        outcome: Outcome = await self.dialog.respond(state, event, context)
        self.debug.put_nowait(outcome.debug)
        return outcome


def main() -> int:  # python -m dialogs.cli test [PATH]
    parser = argparse.ArgumentParser(prog="frontdesk")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args()
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
