"""The adapter contract every platform channel implements.

An adapter is pure except ``send``: ``verify``, ``parse`` and ``acknowledge`` take and return
plain data (a :class:`WebhookRequest` is the raw HTTP request, detached from aiohttp), so one
generic gateway handler serves every platform's webhook route.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from aiohttp import web

from common.messages import InboundEvent, OutboundMessage


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # keys lower-cased
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookResponse:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    method: Literal["GET", "POST"]
    path: str


class WebhookRejected(Exception):
    """The request is refused before anything of it is processed."""

    def __init__(self, status: Literal[400, 401, 403, 404], reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class WebhookRetryLater(Exception):
    """The request is fine but cannot be taken now (503): the platform should retry,
    after ``retry_after`` seconds if given (sent as ``Retry-After``)."""

    def __init__(self, reason: str, *, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.status = 503
        self.reason = reason
        self.retry_after = retry_after


# What malformed outside input raises from the standard library and from our validated
# message types (common.messages.InvalidMessage is a ValueError): JSON nested too deep
# (RecursionError), a 400-digit number (OverflowError), a wrong type (TypeError) ...
MALFORMED: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    RecursionError,
    OverflowError,
)


@contextmanager
def rejecting_malformed(status: Literal[400, 401, 403] = 400) -> Iterator[None]:
    """Turn an exception from reading outside input into WebhookRejected(status): wraps every
    adapter's ``parse`` (400) and signature check (403), so no body reaches a 5xx."""
    try:
        yield
    except WebhookRejected:
        raise
    except MALFORMED as exc:
        what = "malformed body" if status == 400 else "unverifiable signature"
        raise WebhookRejected(status, f"{what} ({type(exc).__name__})") from None


def load_json(body: bytes | str, what: str = "body") -> Any:
    """Parse a JSON body; WebhookRejected(400) for anything that is not JSON (bad UTF-8,
    nesting too deep for the parser, a number too long to convert)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise WebhookRejected(400, f"{what} is not JSON: {type(exc).__name__}") from None


SendErrorKind = Literal["rate_limited", "transient", "permanent"]


class SendError(Exception):
    """A send failed; ``kind`` tells the outbox whether and when to try again."""

    def __init__(
        self, kind: SendErrorKind, detail: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.retry_after = retry_after
        self.attempts = 1

    @property
    def retryable(self) -> bool:
        return self.kind != "permanent"


def classify_http_status(status: int, detail: str, retry_after: str | None) -> SendError:
    """The usual mapping of an HTTP failure: 429 waits, 5xx and 408 retry, other 4xx don't."""
    if status == 429:
        return SendError("rate_limited", detail, retry_after=parse_retry_after(retry_after))
    if status >= 500 or status == 408:
        return SendError("transient", detail, retry_after=parse_retry_after(retry_after))
    return SendError("permanent", detail)


def parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


EventSink = Callable[[InboundEvent], Awaitable[object]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Host:
    """What an adapter needs to know about the gateway it runs in."""

    public_url: str  # server.public_url (Twilio signs it; pages and media links use it)
    timeout: float  # outbox.timeout: seconds for one call to a platform API
    agents_channel: str = ""  # handoff.slack_channel
    store_url: str = "memory://"  # store.*: for a channel that keeps its own log (web chat)
    session_ttl: float = 30 * 24 * 3600.0
    dedup_ttl: float = 7 * 24 * 3600.0
    max_connections: int = 512


class Channel(Protocol):
    """A platform adapter. ``name`` names the adapter; ``conversation_channels`` are the
    conversation channels whose messages it sends (Twilio: ``sms`` and ``whatsapp``)."""

    name: str

    @property
    def conversation_channels(self) -> Sequence[str]: ...

    @property
    def capabilities(self) -> Mapping[str, Capabilities]:
        """Each conversation channel's :class:`Capabilities`."""
        ...

    def routes(self) -> Sequence[Route]: ...

    def verify(self, request: WebhookRequest) -> None:
        """Raise WebhookRejected (401/403) unless the platform signed this request."""

    def parse(self, request: WebhookRequest) -> list[InboundEvent]:
        """The normalised events in a verified request; WebhookRejected(400) if malformed.
        An empty list means: acknowledge and drop."""

    def acknowledge(self, request: WebhookRequest, events: list[InboundEvent]) -> WebhookResponse:
        """What the platform expects back once the events are durably queued."""

    async def start(self, sink: EventSink) -> None:
        """Open clients; a channel that pulls events itself (Telegram long polling) feeds
        them to ``sink``, the same ingest the webhooks use."""

    async def close(self) -> None: ...

    async def send(self, message: OutboundMessage) -> str:
        """Deliver one message; return the platform's message id; raise SendError."""


DAY = 24 * 3600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """What is special about one conversation channel, declared by its adapter and read by
    the pipe (worker, outbox, handoff desk), so that the core holds no lists of channels."""

    label: str  # what agents and admins read ("SMS", "WhatsApp", "Website")
    buttons: bool = False  # native buttons: a press comes back as a payload
    numbered_options: bool = False  # options rendered as "[1] …" text: a typed number picks
    service_window: float | None = None  # seconds after the customer's last message in which
    # free-form messages may be sent (WhatsApp's 24 hours); None: always
    rate_limit: float | None = None  # messages a second per process, below the platform's
    # documented limit (outbox.rate_limits overrides it)


def plain(label: str) -> Capabilities:
    """The capabilities of a channel with nothing special (text only, no documented limit)."""
    return Capabilities(label=label)


@runtime_checkable
class ServesPages(Protocol):
    """A channel that serves pages of its own beside its webhooks (the website chat)."""

    def mount(self, app: web.Application) -> None:
        """Add the channel's own routes (and lifecycle) to the gateway's app."""


class WebhookLess:
    """The inbound half of the contract for channels fed from inside the process (the
    terminal of ``frontdesk chat``): no routes, so nothing is ever verified or parsed."""

    name: str

    def routes(self) -> Sequence[Route]:
        return ()

    def verify(self, request: WebhookRequest) -> None:
        raise WebhookRejected(404, f"the {self.name} channel has no webhook")

    def parse(self, request: WebhookRequest) -> list[InboundEvent]:
        return []

    def acknowledge(self, request: WebhookRequest, events: list[InboundEvent]) -> WebhookResponse:
        return WebhookResponse()

    async def start(self, sink: EventSink) -> None:
        return None

    async def close(self) -> None:
        return None
