"""The generic API channel: a business's own app or website talks to the bot over JSON.

Inbound ``POST /webhooks/api`` takes ``{"id", "conversation_id", "user_id", "user_name"?,
"text", "payload"?}``; replies are POSTed to ``channels.api.callback_url`` as ``{"id",
"conversation_id", "in_reply_to", "text", "buttons": [{"title", "payload"}]}``. Both directions
carry ``X-Frontdesk-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from channels.base import (
    Capabilities,
    EventSink,
    Route,
    SendError,
    WebhookRejected,
    WebhookRequest,
    WebhookResponse,
    classify_http_status,
    load_json,
    rejecting_malformed,
)
from common.messages import (
    ConversationRef,
    CustomerMessage,
    CustomerRef,
    InboundEvent,
    OutboundMessage,
)

SIGNATURE_HEADER = "X-Frontdesk-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, signature: str | None) -> bool:
    """Constant-time, over bytes: a non-ASCII header (``sha256=éé``) is simply wrong."""
    return signature is not None and hmac.compare_digest(
        sign(secret, body).encode(), signature.encode("utf-8", "surrogateescape")
    )


def _field(data: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise WebhookRejected(400, f"missing field {name!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise WebhookRejected(400, f"field {name!r} must be a string")
    text = str(value)
    if required and name != "text" and not text:
        raise WebhookRejected(400, f"field {name!r} must not be empty")
    return text


class ApiChannel:
    name = "api"
    conversation_channels: tuple[str, ...] = ("api",)
    capabilities: Mapping[str, Capabilities] = {"api": Capabilities(label="App", buttons=True)}

    def __init__(self, *, secret: str, callback_url: str, timeout: float = 15.0) -> None:
        self.secret = secret
        self.callback_url = callback_url
        self.timeout = timeout
        self._http: aiohttp.ClientSession | None = None

    def routes(self) -> Sequence[Route]:
        return (Route(method="POST", path="/webhooks/api"),)

    def verify(self, request: WebhookRequest) -> None:
        signature = request.header(SIGNATURE_HEADER)
        if signature is None:
            raise WebhookRejected(401, f"missing {SIGNATURE_HEADER}")
        if not signature_matches(self.secret, request.body, signature):
            raise WebhookRejected(403, f"bad {SIGNATURE_HEADER}")

    def parse(self, request: WebhookRequest) -> list[InboundEvent]:
        with rejecting_malformed():
            return self._parse(load_json(request.body))

    def _parse(self, data: object) -> list[InboundEvent]:
        if not isinstance(data, dict):
            raise WebhookRejected(400, "body must be a JSON object")
        event_id = _field(data, "id")
        conversation_id = _field(data, "conversation_id")
        user_id = _field(data, "user_id")
        payload = _field(data, "payload", required=False)
        text = _field(data, "text", required=payload is None) or ""
        assert event_id and conversation_id and user_id
        return [
            CustomerMessage(
                event_id=event_id,
                conversation=ConversationRef(channel=self.name, chat_id=conversation_id),
                customer=CustomerRef(
                    channel=self.name,
                    user_id=user_id,
                    display_name=_field(data, "user_name", required=False),
                ),
                text=text,
                button_payload=payload,
            )
        ]

    def acknowledge(self, request: WebhookRequest, events: list[InboundEvent]) -> WebhookResponse:
        return WebhookResponse(status=200, body=b'{"ok":true}', content_type="application/json")

    def render(self, message: OutboundMessage) -> bytes:
        return json.dumps(
            {
                "id": message.key,
                "conversation_id": message.conversation.chat_id,
                "in_reply_to": message.in_reply_to,
                "text": message.text,
                "buttons": [{"title": b.title, "payload": b.payload} for b in message.buttons],
            },
            ensure_ascii=False,
        ).encode()

    async def start(self, sink: EventSink) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def send(self, message: OutboundMessage) -> str:
        if self._http is None:
            raise RuntimeError("ApiChannel.send before start()")
        body = self.render(message)
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.secret, body)}
        try:
            async with self._http.post(self.callback_url, data=body, headers=headers) as resp:
                if resp.status < 300:
                    return message.key
                detail = f"callback answered {resp.status}"
                raise classify_http_status(resp.status, detail, resp.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendError("transient", f"callback unreachable: {exc!r}") from exc
