"""Twilio messages out: rendering a normalised message into Messages API calls, the SDK's
async HTTP client pointed at the configured base URL, and the classification of failures.

Rendering is pure. Buttons become numbered options (SMS and WhatsApp through Twilio alike);
text is split at 1,600 characters, the Messages API's body limit on both; an SMS carries up
to 10 media URLs, a WhatsApp message one. Outside WhatsApp's 24-hour window free text is not
sent: the configured template (Content SID) is, or the send fails permanently.
"""

from __future__ import annotations

import base64
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response

from channels.base import SendError, classify_http_status
from channels.text import numbered_options, split_text
from channels.twilio.codes import describe
from common.messages import OutboundMessage

BODY_LIMIT = 1600  # Messages API: 1,600 characters per body, SMS and WhatsApp
MEDIA_PER_MESSAGE = {"sms": 10, "whatsapp": 1}
WHATSAPP_PREFIX = "whatsapp:"

# The response headers of the Twilio request made in the current task (for Retry-After):
# the SDK's exceptions do not carry them.
_response_headers: ContextVar[dict[str, str] | None] = ContextVar(
    "twilio_response_headers", default=None
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Part:
    """One Messages API create call."""

    to: str
    body: str = ""
    media_urls: tuple[str, ...] = ()
    content_sid: str = ""


def address(channel: str, number: str) -> str:
    bare = number.removeprefix(WHATSAPP_PREFIX)
    return WHATSAPP_PREFIX + bare if channel == "whatsapp" else bare


def render(message: OutboundMessage, *, now: float, template_sid: str = "") -> list[Part]:
    """The create calls that deliver ``message``; SendError("permanent") if none can."""
    channel = message.conversation.channel
    if channel not in MEDIA_PER_MESSAGE:
        raise SendError("permanent", f"Twilio does not serve the {channel!r} channel")
    to = address(channel, message.conversation.chat_id)
    if message.window_closes_at is not None and now >= message.window_closes_at:
        if not template_sid:
            raise SendError("permanent", "WhatsApp 24-hour window closed; no template configured")
        return [Part(to=to, content_sid=template_sid)]
    text = numbered_options(message.text, message.buttons)
    chunks = split_text(text, BODY_LIMIT) if text.strip() else []
    media = [a.url for a in message.attachments]
    per = MEDIA_PER_MESSAGE[channel]
    groups = [tuple(media[i : i + per]) for i in range(0, len(media), per)]
    count = max(len(chunks), len(groups))
    if count == 0:
        raise SendError("permanent", "nothing to send: no text and no media")
    return [
        Part(
            to=to,
            body=chunks[i] if i < len(chunks) else "",
            media_urls=groups[i] if i < len(groups) else (),
        )
        for i in range(count)
    ]


class RebasedHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """Twilio's async HTTP client, sending to ``base_url`` instead of ``https://*.twilio.com``
    (a proxy, a regional edge, a local fake), never retrying (the outbox does), and keeping the
    response headers for the caller. Create it inside the event loop; ``close()`` it."""

    def __init__(self, base_url: str, *, timeout: float) -> None:
        super().__init__(pool_connections=False, timeout=timeout)
        self.base = urlsplit(base_url.rstrip("/"))
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))

    def rebase(self, url: str) -> str:
        parts = urlsplit(url)
        path = self.base.path + parts.path
        return urlunsplit((self.base.scheme, self.base.netloc, path, parts.query, ""))

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        fields = [
            (key, str(item))
            for key, value in (data or {}).items()
            for item in (value if isinstance(value, list) else [value])
        ]
        headers = dict(headers or {})
        if auth:
            credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {credentials}"
        async with self.session.request(
            method.upper(),
            self.rebase(url),
            params=[(k, str(v)) for k, v in (params or {}).items()] or None,
            data=fields or None,
            headers=headers,
            allow_redirects=allow_redirects,
        ) as resp:
            text = await resp.text()
            sink = _response_headers.get()
            if sink is not None:
                sink.update({k.lower(): v for k, v in resp.headers.items()})
            return Response(resp.status, text, resp.headers)


def create_arguments(part: Part, sender: dict[str, str], status_callback: str | None) -> Any:
    """Keyword arguments of ``client.messages.create_async`` for one part."""
    kwargs: dict[str, Any] = {"to": part.to, **sender}
    if part.content_sid:
        kwargs["content_sid"] = part.content_sid
    if part.body:
        kwargs["body"] = part.body
    if part.media_urls:
        kwargs["media_url"] = list(part.media_urls)
    if status_callback:
        kwargs["status_callback"] = status_callback
    return kwargs


def classify(
    exc: TwilioRestException | TwilioServiceException, retry_after: str | None
) -> SendError:
    """429 waits (Retry-After), 5xx retries, other 4xx are permanent (invalid number, opted out,
    no permission, WhatsApp window closed, ...); the detail names Twilio's error code."""
    status = int(getattr(exc, "status", 0) or 0)
    code = getattr(exc, "code", None)
    message = str(getattr(exc, "msg", "") or getattr(exc, "detail", "") or "")
    message = message.removeprefix("Unable to create record: ")
    detail = f"Twilio {status}: " + (describe(code, message) if code else message)
    return classify_http_status(status, detail, retry_after)


class ResponseHeaders:
    """Collect the headers of the Twilio responses received inside the ``with`` block."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}

    def __enter__(self) -> ResponseHeaders:
        self._token = _response_headers.set(self.headers)
        return self

    def __exit__(self, *exc: object) -> None:
        _response_headers.reset(self._token)
