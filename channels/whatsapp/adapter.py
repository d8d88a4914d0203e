"""The WhatsApp Cloud API adapter: Meta's webhook in, Graph API ``/messages`` out.

- ``GET /webhooks/whatsapp`` is Meta's subscription handshake: ``hub.mode=subscribe`` and
  ``hub.verify_token`` equal to ours are answered with ``hub.challenge`` as plain text; anything
  else gets 403.
- ``POST /webhooks/whatsapp`` carries ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app
  secret, raw body)>``, checked over the raw bytes (missing: 401, wrong: 403). Meta publishes
  no Python verifier; this is its documented scheme.
- ``send`` posts each rendered body to ``{api_base_url}/{phone_number_id}/messages`` with the
  access token, over aiohttp, and answers the WhatsApp message id (``wamid``) of the last one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiohttp

from channels.base import (
    DAY,
    Capabilities,
    EventSink,
    Route,
    SendError,
    WebhookRejected,
    WebhookRequest,
    WebhookResponse,
    rejecting_malformed,
)
from channels.parts import Progress, Recent, send_parts
from channels.settings import WhatsAppSettings
from channels.whatsapp.errors import classify_graph_error
from channels.whatsapp.inbound import CHANNEL, NotificationParser, load_notification
from channels.whatsapp.render import Payload, Template, render
from common.logging import get_logger
from common.messages import InboundEvent, OutboundMessage

PATH = "/webhooks/whatsapp"
SIGNATURE_HEADER = "X-Hub-Signature-256"


def signature_for(app_secret: str, body: bytes) -> str:
    """Meta's ``X-Hub-Signature-256`` value for ``body``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def _equal(a: str, b: str) -> bool:
    # Bytes, not str: compare_digest refuses non-ASCII str (a junk header is just wrong).
    return hmac.compare_digest(a.encode("utf-8", "surrogateescape"), b.encode())


class WhatsAppCloudChannel:
    name = CHANNEL
    conversation_channels: tuple[str, ...] = (CHANNEL,)
    capabilities: Mapping[str, Capabilities] = {
        # interactive buttons up to three, else numbered options; 80/s per business number
        CHANNEL: Capabilities(
            label="WhatsApp",
            buttons=True,
            numbered_options=True,
            service_window=DAY,
            rate_limit=50.0,
        )
    }

    def __init__(
        self,
        *,
        access_token: str,
        app_secret: str,
        verify_token: str,
        phone_number_id: str,
        api_base_url: str = "https://graph.facebook.com/v21.0",
        template_name: str = "",
        template_language: str = "en_US",
        timeout: float = 15.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.access_token = access_token
        self.app_secret = app_secret
        self.verify_token = verify_token
        self.phone_number_id = phone_number_id
        self.api_base_url = api_base_url.rstrip("/")
        self.template = (
            Template(name=template_name, language=template_language) if template_name else None
        )
        self.timeout = timeout
        self.clock = clock
        self.parser = NotificationParser(self.api_base_url)
        self._http: aiohttp.ClientSession | None = None
        # Parts of a multi-part message already accepted by WhatsApp, so that a retry after a
        # failed later part does not send the earlier ones again (per process, best effort).
        self._progress: Progress = Recent()

    @classmethod
    def from_settings(
        cls, settings: WhatsAppSettings, *, timeout: float = 15.0
    ) -> WhatsAppCloudChannel:
        return cls(
            access_token=settings.access_token,
            app_secret=settings.app_secret,
            verify_token=settings.verify_token,
            phone_number_id=settings.phone_number_id,
            api_base_url=settings.api_base_url,
            template_name=settings.template_name,
            template_language=settings.template_language,
            timeout=timeout,
        )

    @property
    def messages_url(self) -> str:
        return f"{self.api_base_url}/{self.phone_number_id}/messages"

    def routes(self) -> Sequence[Route]:
        return (Route(method="GET", path=PATH), Route(method="POST", path=PATH))

    def verify(self, request: WebhookRequest) -> None:
        if request.method == "GET":
            mode = request.query.get("hub.mode", "")
            token = request.query.get("hub.verify_token", "")
            if not self.verify_token or mode != "subscribe" or not _equal(token, self.verify_token):
                raise WebhookRejected(403, "verification failed: wrong hub.mode or verify token")
            return
        signature = request.header(SIGNATURE_HEADER)
        if signature is None:
            raise WebhookRejected(401, f"missing {SIGNATURE_HEADER}")
        if not self.app_secret or not _equal(
            signature, signature_for(self.app_secret, request.body)
        ):
            raise WebhookRejected(403, f"bad {SIGNATURE_HEADER}")

    def parse(self, request: WebhookRequest) -> list[InboundEvent]:
        if request.method == "GET":
            if not request.query.get("hub.challenge"):
                raise WebhookRejected(400, "verification request without hub.challenge")
            return []
        with rejecting_malformed():
            return self.parser.events(load_notification(request.body))

    def acknowledge(self, request: WebhookRequest, events: list[InboundEvent]) -> WebhookResponse:
        if request.method == "GET":
            return WebhookResponse(body=request.query["hub.challenge"].encode())
        return WebhookResponse(body=b"ok")

    async def start(self, sink: EventSink) -> None:
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            headers={"Authorization": f"Bearer {self.access_token}"},
        )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def render(self, message: OutboundMessage, now: float | None = None) -> list[Payload]:
        return render(message, now=self.clock() if now is None else now, template=self.template)

    async def send(self, message: OutboundMessage) -> str:
        if self._http is None:
            raise RuntimeError("WhatsAppCloudChannel.send before start()")
        now = self.clock()
        payloads = self.render(message, now)
        if message.window_closes_at is not None and now >= message.window_closes_at:
            get_logger(channel=self.name, conversation_id=message.session_key).info(
                "whatsapp_window_closed", message_key=message.key, sending="template"
            )
        sent = await send_parts(
            message.key, payloads, self._post, self._progress, forget_on_permanent=True
        )
        return sent[-1]

    async def _post(self, payload: Payload) -> str:
        assert self._http is not None
        try:
            async with self._http.post(self.messages_url, json=payload) as resp:
                body = await resp.read()
                if resp.status >= 300:
                    raise classify_graph_error(resp.status, body, resp.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendError("transient", f"Graph API unreachable: {exc!r}") from exc
        # Accepted: from here on nothing may make the outbox send it again.
        try:
            data: Any = json.loads(body)
            return str(data["messages"][0]["id"])
        except (ValueError, KeyError, IndexError, TypeError):
            get_logger(channel=self.name).warning("whatsapp_no_message_id", status=resp.status)
            return ""
