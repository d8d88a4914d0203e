"""The website chat channel: the adapter the outbox sends through, and the owner of the
widget's pages, sockets, tokens, limits and conversation log.

Inbound comes over the widget's WebSocket (see ``session``), not a webhook, so the webhook half
of the contract is empty; the channel adds its own routes to the app (``mount``). ``send``
appends the reply to the conversation log, from where every socket of the conversation, in
whichever process, pushes it to its widget.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Mapping
from typing import Any

from aiohttp import WSCloseCode, web

from channels.base import Capabilities, EventSink, Host, SendError, WebhookLess
from channels.web.limits import Buckets
from channels.web.log import ConversationLog, MemoryLog, RedisLog
from channels.web.pages import Pages
from channels.web.protocol import reply_entry
from channels.web.settings import WEB_STRINGS, WebChannelSettings
from channels.web.tokens import VisitorTokens
from common.errors import StoreUnavailable
from common.logging import get_logger
from common.messages import InboundEvent, OutboundMessage


class WebChannel(WebhookLess):
    name = "web"
    conversation_channels: tuple[str, ...] = ("web",)
    capabilities: Mapping[str, Capabilities] = {"web": Capabilities(label="Website", buttons=True)}

    def __init__(
        self,
        settings: WebChannelSettings,
        *,
        token_secret: str,
        log: ConversationLog,
        public_url: str,
    ) -> None:
        self.settings = settings
        self.strings = {**WEB_STRINGS, **settings.strings}
        self.tokens = VisitorTokens(token_secret, settings.token_ttl)
        self.log = log
        self.sockets: set[web.WebSocketResponse] = set()
        self.stats: Counter[str] = Counter()
        self.visitor_messages = Buckets(settings.messages_per_minute, 60.0)
        self.ip_messages = Buckets(settings.ip_messages_per_minute, 60.0)
        self.new_conversations = Buckets(settings.ip_conversations_per_hour, 3600.0)
        self.pages = Pages(self, public_url=public_url)
        self._sink: EventSink | None = None
        self.random_secret = False  # said once the chat is served (not in `frontdesk chat`)

    @classmethod
    def from_settings(cls, web_settings: WebChannelSettings, host: Host) -> WebChannel | None:
        """Off when disabled, or when a shared store has no token secret to share."""
        if not web_settings.enabled:
            return None
        secret = web_settings.token_secret
        memory = host.store_url.startswith("memory://")
        if not secret and not memory:
            return None  # processes sharing Redis must share the secret
        random_secret = not secret
        if random_secret:
            secret = secrets.token_urlsafe(32)
        keep = web_settings.history
        conversation_log: ConversationLog = (
            MemoryLog(keep=keep)
            if memory
            else RedisLog(
                host.store_url,
                keep=keep,
                ttl=host.session_ttl,
                dedup_ttl=host.dedup_ttl,
                max_connections=host.max_connections,
            )
        )
        channel = cls(
            web_settings,
            token_secret=secret,
            log=conversation_log,
            public_url=host.public_url,
        )
        channel.random_secret = random_secret
        return channel

    # ------------------------------------------------------------ the contract
    def mount(self, app: web.Application) -> None:
        """Serve ``/``, ``/widget.js``, ``/widget.css`` and the WebSocket ``/web/socket``."""
        self.pages.mount(app)
        app.on_shutdown.append(self._close_sockets)
        log = get_logger(channel="web")
        if self.random_secret:
            log.warning(
                "web_token_secret_random",
                detail="visitor tokens die with this process; set FRONTDESK_WEB_TOKEN_SECRET",
            )
        log.info(
            "web_chat", url=self.pages.own + "/", allowed_origins=self.settings.allowed_origins
        )

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        await self.log.start()

    async def close(self) -> None:
        await self.disconnect_all()
        await self.log.close()

    async def send(self, message: OutboundMessage) -> str:
        entry = reply_entry(message)
        if not (entry["text"] or entry["buttons"] or entry["attachments"]):
            return message.key
        try:
            entry_id = await self.log.append(message.conversation.chat_id, message.key, entry)
        except StoreUnavailable as exc:
            raise SendError("transient", f"conversation log unavailable: {exc}") from exc
        return entry_id or message.key

    # ---------------------------------------------------------------- helpers
    async def accept(self, event: InboundEvent) -> object:
        if self._sink is None:
            raise StoreUnavailable("the web channel is not started")
        return await self._sink(event)

    async def disconnect_all(self) -> None:
        """Close every open widget socket (shutdown; tests drop connections with it)."""
        sockets = list(self.sockets)
        await asyncio.gather(
            *(ws.close(code=WSCloseCode.GOING_AWAY, message=b"bye") for ws in sockets),
            return_exceptions=True,
        )

    async def _close_sockets(self, app: web.Application) -> None:
        await self.disconnect_all()

    def log_event(self, event: str, **fields: Any) -> None:
        get_logger(channel="web").warning(event, **fields)
