"""``frontdesk test`` (the conversation tests) and the dialog checks of ``frontdesk validate``."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Callable
from typing import Any

from common.logging import configure_logging
from common.settings import ConfigProblem
from dialogs.knowledge import KnowledgeSpec
from dialogs.loader import load_bot, nlu_files
from dialogs.runner import DialogRunner
from dialogs.testing import report, run_tests
from frontdesk.assembly import ORDER_API_ENV, build_nlu
from frontdesk.config import Settings, load_cli_settings
from nlu.result import NluBackend


def validate_dialogs(settings: Settings, env: dict[str, str] | None = None) -> list[ConfigProblem]:
    """Every problem of the dialog YAML, checked against the NLU data (``frontdesk validate``)."""
    ds = settings.dialogs
    if not ds.enabled:
        return []
    knowledge = KnowledgeSpec.of(settings, use_encoder=False)
    files = nlu_files(settings.nlu.data)
    return load_bot(ds.path, nlu_data=files, env=env, knowledge=knowledge).problems


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

    ds = settings.dialogs
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
    settings = load_cli_settings(args.config)
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
