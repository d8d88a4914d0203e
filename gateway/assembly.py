"""Builds the bot a gateway runs from settings: the NLU, the dialog runner with its hot
reload, and the example's demo order service when configured.

``frontdesk run`` and ``frontdesk chat`` both use :func:`bot_dialog`, so they run the same bot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from dialogs.base import Dialog
from dialogs.echo import EchoDialog
from gateway.config import Settings
from gateway.logging import get_logger
from nlu.result import NluBackend

NluErrorHook = Callable[[str, str], None]  # (backend, outcome)


@asynccontextmanager
async def bot_dialog(
    settings: Settings, *, on_nlu_error: NluErrorHook | None = None
) -> AsyncIterator[Dialog]:
    """The configured dialog (the echo dialog when ``dialogs.enabled`` is false), running
    until the block ends. Raises ConfigError when the dialog YAML or NLU data is invalid.
    ``on_nlu_error`` hears of each failed call to a remote NLU backend (for the metrics)."""
    if not settings.dialogs.enabled:
        yield EchoDialog()
        return
    from dialogs.cli import build_dialog, build_nlu, build_reloader, start_demo_services

    async with AsyncExitStack() as stack:
        demo = await start_demo_services(settings)
        env = None
        if demo is not None:
            stack.push_async_callback(demo.runner.cleanup)
            env = demo.env
        nlu: NluBackend
        if settings.nlu.backend == "rasa":
            nlu = await _rasa(settings, stack, on_nlu_error)
            nlu_loader = None  # the Rasa server has its own model; dialogs still reload
        else:
            nlu = await asyncio.to_thread(build_nlu, settings)
            nlu_loader = lambda: build_nlu(settings)  # noqa: E731
        runner = build_dialog(settings, nlu, env=env)
        stack.push_async_callback(runner.close)
        reloader = build_reloader(settings, runner, nlu_loader=nlu_loader, env=env)
        if reloader is not None:
            reloader.start()
            stack.push_async_callback(reloader.stop)
        get_logger().info(
            "dialogs_loaded", path=settings.dialogs.path, hot_reload=reloader is not None
        )
        yield runner


async def _rasa(
    settings: Settings, stack: AsyncExitStack, on_error: NluErrorHook | None
) -> NluBackend:
    """A Rasa server's NLU, falling back to the built-in one when ``nlu.fallback`` says so."""
    from dialogs.cli import build_nlu
    from nlu.rasa import RasaNlu
    from nlu.sentiment import sentiment

    fallback = None
    if settings.nlu.fallback == "builtin":
        fallback = await asyncio.to_thread(build_nlu, settings)
    rasa = RasaNlu.from_settings(
        settings.nlu, fallback=fallback, sentiment=sentiment, on_error=on_error
    )
    await rasa.start()
    stack.push_async_callback(rasa.close)
    return rasa
