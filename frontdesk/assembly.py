"""Builds the bot a gateway runs from settings: the NLU, the dialog runner with its hot
reload, and the example's demo order service when configured.

``frontdesk run`` and ``frontdesk chat`` both use :func:`bot_dialog`, so they run the same bot.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from common.logging import get_logger
from common.messages import CustomerMessage
from common.settings import ConfigError
from dialogs.base import Dialog, Outcome, SystemEvent, TurnContext
from dialogs.echo import EchoDialog
from dialogs.knowledge import KnowledgeSpec
from dialogs.loader import load_bot, nlu_files
from dialogs.reload import DialogReloader
from dialogs.runner import DialogRunner
from frontdesk.config import Settings
from nlu.result import NluBackend

ORDER_API_ENV = "FRONTDESK_ORDER_API"  # the example bot's order service URL
NluErrorHook = Callable[[str, str], None]  # (backend, outcome)


def build_nlu(settings: Settings) -> NluBackend:
    """The built-in NLU trained (or loaded from its cache) on ``nlu.data``."""
    from nlu.model import BuiltinBackend, load_or_train

    return BuiltinBackend(load_or_train(settings.nlu))


def build_dialog(
    settings: Settings, nlu: NluBackend, env: dict[str, str] | None = None
) -> DialogRunner:
    """The runner for ``dialogs.path``; raises ConfigError with every problem."""
    ds = settings.dialogs
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
    ds = settings.dialogs
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
    url = settings.dialogs.demo_order_service
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


class ConfiguredBot:
    """The configured bot as a component with a lifecycle, like the channels: the gateway is
    built with it, and :meth:`start` (in the app's startup) trains or loads the NLU, loads the
    dialog YAML and starts the hot reload; :meth:`close` stops them. No turn runs before
    ``start`` (the workers start after it)."""

    def __init__(self, settings: Settings, *, on_nlu_error: NluErrorHook | None = None) -> None:
        self.settings = settings
        self.on_nlu_error = on_nlu_error
        self._stack = AsyncExitStack()
        self._dialog: Dialog | None = None

    async def start(self) -> None:
        bot = bot_dialog(self.settings, on_nlu_error=self.on_nlu_error)
        self._dialog = await self._stack.enter_async_context(bot)

    async def close(self) -> None:
        self._dialog = None
        await self._stack.aclose()

    async def respond(
        self, state: Mapping[str, Any], event: CustomerMessage | SystemEvent, context: TurnContext
    ) -> Outcome:
        if self._dialog is None:
            raise RuntimeError("the bot has not started")
        return await self._dialog.respond(state, event, context)
