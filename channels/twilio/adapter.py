"""The Twilio adapter: SMS/MMS and WhatsApp through Twilio, on one pair of webhook routes.

``POST /webhooks/twilio`` takes inbound messages (``From: whatsapp:+…`` for WhatsApp) and
answers empty TwiML once they are queued: replies go out through the REST API. ``POST
/webhooks/twilio/status`` takes delivery status callbacks. Sends use the official client with
its async HTTP client, so nothing blocks the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from channels.base import (
    DAY,
    Capabilities,
    EventSink,
    Route,
    SendError,
    WebhookRequest,
    WebhookResponse,
    rejecting_malformed,
)
from channels.parts import Progress, Recent, send_parts
from channels.settings import TwilioSettings
from channels.twilio.inbound import form_params, parse_message, parse_status, verify_signature
from channels.twilio.outbound import (
    WHATSAPP_PREFIX,
    Part,
    RebasedHttpClient,
    ResponseHeaders,
    classify,
    create_arguments,
    render,
)
from common.logging import get_logger
from common.messages import InboundEvent, OutboundMessage

INBOUND_PATH = "/webhooks/twilio"
STATUS_PATH = "/webhooks/twilio/status"
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


class TwilioChannel:
    name = "twilio"
    conversation_channels: tuple[str, ...] = ("sms", "whatsapp")
    capabilities: Mapping[str, Capabilities] = {
        # a US long code sends 1 segment a second
        "sms": Capabilities(label="SMS", numbered_options=True, rate_limit=1.0),
        "whatsapp": Capabilities(
            label="WhatsApp", numbered_options=True, service_window=DAY, rate_limit=20.0
        ),
    }

    def __init__(self, settings: TwilioSettings, *, public_url: str, timeout: float = 15.0) -> None:
        self.settings = settings
        self.public_url = public_url.rstrip("/")
        self.timeout = timeout
        self._validator = RequestValidator(settings.auth_token)
        self._http: RebasedHttpClient | None = None
        self._client: Client | None = None
        # Parts of a multi-part message already accepted by Twilio, by message key: a retry
        # of the message by the outbox sends only the rest.
        self._progress: Progress = Recent()
        self._log = get_logger(channel=self.name)

    # ------------------------------------------------------------------ webhooks (pure)

    def routes(self) -> Sequence[Route]:
        return (Route(method="POST", path=INBOUND_PATH), Route(method="POST", path=STATUS_PATH))

    def verify(self, request: WebhookRequest) -> None:
        with rejecting_malformed(403):
            verify_signature(self._validator, self.public_url, request)

    def parse(self, request: WebhookRequest) -> list[InboundEvent]:
        with rejecting_malformed():
            params = form_params(request.body)
            if request.path == STATUS_PATH:
                return parse_status(params)
            return parse_message(params)

    def acknowledge(self, request: WebhookRequest, events: list[InboundEvent]) -> WebhookResponse:
        if request.path == STATUS_PATH:
            return WebhookResponse(status=204)
        return WebhookResponse(status=200, body=EMPTY_TWIML, content_type="text/xml")

    # ------------------------------------------------------------------ sending

    @property
    def status_callback(self) -> str | None:
        """Where Twilio reports delivery; None when the public URL is a loopback address,
        which Twilio refuses (and could not reach)."""
        host = urlsplit(self.public_url).hostname or ""
        return None if host in _LOOPBACK else self.public_url + STATUS_PATH

    def sender(self, channel: str) -> dict[str, str]:
        """``from_`` (the channel's number) or, without one, the Messaging Service."""
        s = self.settings
        if channel == "whatsapp" and s.whatsapp_number:
            return {"from_": WHATSAPP_PREFIX + s.whatsapp_number.removeprefix(WHATSAPP_PREFIX)}
        if channel == "sms" and s.sms_number:
            return {"from_": s.sms_number}
        if s.messaging_service_sid:
            return {"messaging_service_sid": s.messaging_service_sid}
        raise SendError("permanent", f"no Twilio sender configured for {channel}")

    async def start(self, sink: EventSink) -> None:
        self._http = RebasedHttpClient(self.settings.api_base_url, timeout=self.timeout)
        self._client = Client(
            self.settings.account_sid, self.settings.auth_token, http_client=self._http
        )
        if self.status_callback is None:
            self._log.info("twilio_status_callbacks_off", reason="server.public_url is loopback")

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        self._http = self._client = None

    async def send(self, message: OutboundMessage) -> str:
        if self._client is None:
            raise RuntimeError("TwilioChannel.send before start()")
        channel = message.conversation.channel
        parts = render(message, now=time.time(), template_sid=self.settings.whatsapp_template_sid)
        sender = self.sender(channel)

        async def create(part: Part) -> str:
            return await self._create(part, sender)

        sids = await send_parts(
            message.key, parts, create, self._progress, forget_on_permanent=True
        )
        if len(parts) > 1:
            self._log.debug("sent_in_parts", parts=len(parts), message_key=message.key)
        return ",".join(sids)

    async def _create(self, part: Part, sender: dict[str, str]) -> str:
        assert self._client is not None
        kwargs: Any = create_arguments(part, sender, self.status_callback)
        with ResponseHeaders() as received:
            try:
                created = await self._client.messages.create_async(**kwargs)
            except (TwilioRestException, TwilioServiceException) as exc:
                raise classify(exc, received.headers.get("retry-after")) from exc
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise SendError("transient", f"Twilio unreachable: {exc!r}") from exc
        return str(created.sid)
