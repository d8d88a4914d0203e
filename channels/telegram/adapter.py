"""The Telegram adapter: webhook verification and parsing, sending through PTB's ``Bot``.

``POST /webhooks/telegram`` carries one ``Update``; Telegram puts the secret given to
``setWebhook`` in ``X-Telegram-Bot-Api-Secret-Token`` (missing: 401, wrong: 403). In polling
mode there is no route; :mod:`channels.telegram.polling` pulls updates instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal

from telegram import Bot, Message
from telegram.error import TelegramError
from telegram.request import HTTPXRequest

from channels.base import (
    Capabilities,
    EventSink,
    Route,
    SendError,
    WebhookRejected,
    WebhookRequest,
    WebhookResponse,
    load_json,
    rejecting_malformed,
)
from channels.parts import Progress, Recent, send_parts
from channels.settings import TelegramSettings
from channels.telegram.errors import classify
from channels.telegram.parse import (
    CHANNEL,
    FILE_URL_PREFIX,
    BotIdentity,
    parse_update,
)
from channels.telegram.polling import Poller
from channels.telegram.render import PayloadMemory, keyboard, text_parts
from common.logging import get_logger
from common.messages import Attachment, CustomerReply, InboundEvent
from common.retry import retrying

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/webhooks/telegram"

Step = Callable[[], Awaitable[Message]]
Closer = Callable[[], Awaitable[None]]
_REMEMBERED = 10_000  # answered callback queries, and messages whose sent parts are remembered


def make_bot(token: str, api_base_url: str, timeout: float = 15.0) -> tuple[Bot, Closer]:
    """PTB's async Bot against ``api_base_url`` (``https://api.telegram.org`` or a fake), and
    what closes its HTTP clients (``Bot.shutdown`` skips them unless ``initialize`` ran)."""
    base = api_base_url.rstrip("/")
    api, updates = (
        HTTPXRequest(connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout)
        for _ in range(2)  # getUpdates adds its long-poll timeout to the read timeout
    )
    bot = Bot(
        token,
        base_url=f"{base}/bot",
        base_file_url=f"{base}/file/bot",
        request=api,
        get_updates_request=updates,
    )

    async def close() -> None:
        with contextlib.suppress(TelegramError, RuntimeError):
            await bot.shutdown()
        await asyncio.gather(api.shutdown(), updates.shutdown())

    return bot, close


class IdentityUnknown(Exception):
    """getMe has not answered yet (retried with backoff)."""


class TelegramChannel:
    name = CHANNEL
    conversation_channels: tuple[str, ...] = (CHANNEL,)
    capabilities: Mapping[str, Capabilities] = {
        CHANNEL: Capabilities(label="Telegram", buttons=True, rate_limit=25.0)  # 30/s per bot
    }

    def __init__(
        self,
        *,
        token: str,
        secret_token: str = "",
        api_base_url: str = "https://api.telegram.org",
        mode: Literal["webhook", "polling"] = "webhook",
        timeout: float = 15.0,
        poll_timeout: int = 30,
        bot_identity: BotIdentity | None = None,
    ) -> None:
        self.mode = mode
        self.secret_token = secret_token
        self.bot, self._close_bot = make_bot(token, api_base_url, timeout)
        self.identity = bot_identity
        self.payloads = PayloadMemory()
        self._answered: Recent[bool] = Recent(_REMEMBERED)
        # message key -> ids of the parts sent: a retried send resumes where it failed
        self._progress: Progress = Recent(_REMEMBERED)
        self._poll_timeout = poll_timeout
        self._poller: Poller | None = None
        self._identify: asyncio.Task[None] | None = None
        self._log = get_logger(channel=CHANNEL)

    @classmethod
    def from_settings(
        cls, settings: TelegramSettings, *, timeout: float = 15.0, poll_timeout: int = 30
    ) -> TelegramChannel:
        return cls(
            token=settings.token,
            secret_token=settings.secret_token,
            api_base_url=settings.api_base_url,
            mode=settings.mode,
            timeout=timeout,
            poll_timeout=poll_timeout,
        )

    # ------------------------------------------------------------------ inbound (pure)

    def routes(self) -> Sequence[Route]:
        return () if self.mode == "polling" else (Route(method="POST", path=WEBHOOK_PATH),)

    def verify(self, request: WebhookRequest) -> None:
        given = request.header(SECRET_HEADER)
        if given is None:
            raise WebhookRejected(401, f"missing {SECRET_HEADER}")
        if not self.secret_token or not hmac.compare_digest(
            given.encode("utf-8", "surrogateescape"), self.secret_token.encode()
        ):
            raise WebhookRejected(403, f"wrong {SECRET_HEADER}")

    def parse(self, request: WebhookRequest) -> list[InboundEvent]:
        return self.parse_update(load_json(request.body))

    def parse_update(self, update: object) -> list[InboundEvent]:
        with rejecting_malformed():
            return parse_update(update, bot=self.identity, payload_for=self.payloads.payload_for)

    def acknowledge(self, request: WebhookRequest, events: list[InboundEvent]) -> WebhookResponse:
        return WebhookResponse(status=200)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, sink: EventSink) -> None:
        """getMe (the bot's id and username, to recognise mentions in groups); in polling
        mode, drop any webhook and start pulling updates into ``sink``."""
        if not await self._get_me():
            self._identify = asyncio.create_task(self._get_me_until_known())
        if self.mode == "polling":
            self._poller = Poller(self.bot, self.parse_update, sink, timeout=self._poll_timeout)
            self._poller.start()

    async def _get_me(self) -> bool:
        try:
            await self.bot.initialize()  # opens the HTTP clients and calls getMe
            me = self.bot.bot
        except TelegramError as exc:
            self._log.error("telegram_get_me_failed", error=str(exc))
            return False
        self.identity = BotIdentity(id=me.id, username=me.username or "")
        self._log.info("telegram_ready", bot_username=me.username, mode=self.mode)
        return True

    async def _get_me_until_known(self) -> None:
        await asyncio.sleep(1.0)  # start() has just failed once
        async for attempt in retrying(on=IdentityUnknown, first=2.0, most=60.0):
            with attempt:
                if not await self._get_me():
                    raise IdentityUnknown

    async def close(self) -> None:
        if self._identify is not None:
            self._identify.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._identify
        if self._poller is not None:
            await self._poller.stop()
            self._poller = None
        await self._close_bot()

    async def file_url(self, attachment_url: str) -> str:
        """The download URL of a ``tg-file:<file_id>`` attachment (valid for about an hour;
        it contains the bot token, so fetch it server side)."""
        file = await self.bot.get_file(attachment_url.removeprefix(FILE_URL_PREFIX))
        return str(file.file_path)

    # ------------------------------------------------------------------ outbound

    async def send(self, message: CustomerReply) -> str:
        log = self._log.bind(conversation_id=message.session_key)
        if message.interaction_id:
            await self._answer_callback(message.interaction_id, log)
        steps = self._steps(message)
        if not steps:
            raise SendError("permanent", "nothing to send: no text and no attachments")

        async def send_step(step: Step) -> str:
            try:
                sent = await step()
            except TelegramError as exc:
                error = classify(exc)
                log.warning("telegram_send_failed", kind=error.kind, error=error.detail)
                raise error from exc
            return str(sent.message_id)

        ids = await send_parts(message.key, steps, send_step, self._progress)
        log.debug("telegram_sent", key=message.key, message_id=ids[-1], text=message.text)
        return ids[-1]

    async def _answer_callback(self, query_id: str, log: Any) -> None:
        """Stop the button's spinner. Its failure (the query is older than 15 minutes, or was
        answered by an earlier attempt) must not block the reply."""
        if self._answered.get(query_id) is not None:
            return
        try:
            await self.bot.answer_callback_query(query_id)
        except TelegramError as exc:
            log.info("telegram_answer_callback_failed", error=str(exc))
        self._answered.put(query_id, True)

    def _steps(self, message: CustomerReply) -> list[Step]:
        chat_id = message.conversation.chat_id
        thread = message.conversation.thread_id
        thread_id = int(thread) if thread and thread.lstrip("-").isdigit() else None
        markup = keyboard(message.buttons, self.payloads)
        parts = text_parts(message.text)
        steps: list[Step] = []
        for n, attachment in enumerate(message.attachments):
            last = n == len(message.attachments) - 1 and not parts
            steps.append(self._media(chat_id, thread_id, attachment, markup if last else None))
        for n, part in enumerate(parts):
            steps.append(
                _bind(
                    self.bot.send_message,
                    chat_id=chat_id,
                    text=part,
                    message_thread_id=thread_id,
                    reply_markup=markup if n == len(parts) - 1 else None,
                )
            )
        return steps

    def _media(self, chat_id: str, thread_id: int | None, a: Attachment, markup: Any) -> Step:
        """An attachment by URL (Telegram fetches it) or by ``tg-file:`` file id."""
        ref = a.url.removeprefix(FILE_URL_PREFIX)
        common: dict[str, Any] = {
            "chat_id": chat_id,
            "message_thread_id": thread_id,
            "reply_markup": markup,
        }
        if a.kind == "image":
            return _bind(self.bot.send_photo, photo=ref, **common)
        if a.kind == "audio":
            return _bind(self.bot.send_audio, audio=ref, **common)
        if a.kind == "video":
            return _bind(self.bot.send_video, video=ref, **common)
        if a.kind == "sticker":
            return _bind(self.bot.send_sticker, sticker=ref, **common)
        return _bind(self.bot.send_document, document=ref, **common)


def _bind(method: Callable[..., Awaitable[Message]], **kwargs: Any) -> Step:
    async def call() -> Message:
        return await method(**kwargs)

    return call
