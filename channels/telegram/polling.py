"""Long polling (``channels.telegram.mode: polling``): for a laptop with no public URL.

A task deletes any webhook, then calls ``getUpdates`` in a loop and feeds each update's events
to the sink (the same ingest the webhook uses). The offset passed to ``getUpdates`` confirms
every earlier update to Telegram, so it advances past an update only after the sink accepted
all of its events: a crash re-fetches what was not yet queued, and dedup by ``update_id``
drops what was. A store outage is retried on the same update; an update that cannot be
parsed is logged and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram import Bot, Update
from telegram.error import RetryAfter, TelegramError

from channels.base import EventSink, WebhookRejected
from channels.telegram.errors import retry_after_seconds
from channels.telegram.parse import ALLOWED_UPDATES, CHANNEL, BotIdentityUnknown
from common.logging import get_logger
from common.messages import InboundEvent
from common.retry import retrying
from common.tasks import cancel_and_wait

MAX_BACKOFF = 60.0
R = TypeVar("R")


class Poller:
    def __init__(
        self,
        bot: Bot,
        parse: Callable[[object], list[InboundEvent]],
        sink: EventSink,
        *,
        timeout: int = 30,
    ) -> None:
        self.bot = bot
        self.parse = parse
        self.sink = sink
        self.timeout = timeout
        self.offset: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._log = get_logger(channel=CHANNEL)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="telegram-polling")

    async def stop(self) -> None:
        """Stop polling, then confirm what was accepted so a restart does not fetch it again
        (that matters with ``store.url: memory://``, whose dedup dies with the process)."""
        if self._task is None:
            return
        await cancel_and_wait(self._task)  # not a bare cancel(): see common/tasks.py
        self._task = None
        if self.offset is not None:
            with contextlib.suppress(TelegramError, TypeError, ValueError):
                await self.bot.get_updates(offset=self.offset, timeout=0, limit=1)

    async def _run(self) -> None:
        await self._with_backoff(self._delete_webhook)
        while True:
            updates = await self._with_backoff(self._fetch)
            for update in updates:
                await self._with_backoff(functools.partial(self._deliver, update))
                self.offset = update.update_id + 1

    async def _delete_webhook(self) -> None:
        await self.bot.delete_webhook()
        self._log.info("telegram_polling_started", timeout=self.timeout)

    async def _fetch(self) -> tuple[Update, ...]:
        updates: tuple[Update, ...] = await self.bot.get_updates(
            offset=self.offset, timeout=self.timeout, allowed_updates=list(ALLOWED_UPDATES)
        )
        return updates

    async def _deliver(self, update: Update) -> None:
        try:
            events = self.parse(update.to_dict())
        except WebhookRejected as exc:
            self._log.warning(
                "telegram_update_skipped", update_id=update.update_id, reason=exc.reason
            )
            return
        for event in events:
            await self.sink(event)

    async def _with_backoff(self, call: Callable[[], Awaitable[R]]) -> R:
        """``call()`` until it succeeds: Telegram's flood wait, else exponential backoff.
        (A group message waits while getMe is retried: BotIdentityUnknown.)"""

        def flood_wait(exc: BaseException) -> float | None:
            return retry_after_seconds(exc) if isinstance(exc, RetryAfter) else None

        def log(exc: BaseException, wait: float) -> None:
            if not isinstance(exc, RetryAfter | BotIdentityUnknown):  # network, store outage…
                self._log.warning("telegram_polling_error", error=repr(exc), retry_in=wait)

        async for attempt in retrying(first=1.0, most=MAX_BACKOFF, hint=flood_wait, on_retry=log):
            with attempt:
                return await call()
        raise AssertionError("unreachable: retrying never stops without raising")
