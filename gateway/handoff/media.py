"""The media proxy for files agents share in a handoff thread: signed, expiring URLs on our own
server, and the route that serves them.

Slack's ``url_private`` needs the bot token, which the customers' platforms (Telegram, Twilio,
WhatsApp) do not have. When the desk relays an agent's file it rewrites the URL to
``{server.public_url}/media/slack/<id>?exp=<unix time>&sig=<hex HMAC-SHA256 of "<id>.<exp>">``;
``<id>`` is the Slack URL (base64url), so nothing needs storing. ``GET`` on it checks the
signature (403) and the expiry (410), then streams the file from Slack with the bot token, which
never leaves this process: it is only ever sent to Slack's file host (or to the host of
``channels.slack.api_base_url``, for proxies and local test servers).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp import web

from common.logging import get_logger
from common.messages import Attachment

ROUTE = "/media/slack/{id}"
PREFIX = "/media/slack/"
SLACK_FILE_HOSTS = frozenset({("https", "files.slack.com"), ("https", "files.slack-gov.com")})
_KEY_CONTEXT = b"frontdesk media proxy v1"
_MAX_REDIRECTS = 3
_CHUNK = 64 * 1024
_PASSED_HEADERS = ("Content-Type", "Content-Length", "Content-Disposition", "Last-Modified")


MAX_EXP_DIGITS = 12  # Unix times in seconds until the year 33658


class MediaRefused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def slack_origins(api_base_url: str) -> frozenset[tuple[str, str]]:
    """Where Slack's files may be fetched with the bot token: Slack's file hosts, and the
    host of ``channels.slack.api_base_url`` (proxies, local test servers)."""
    api = urlsplit(api_base_url)
    return SLACK_FILE_HOSTS | {(api.scheme, api.netloc)}


@dataclass(frozen=True, slots=True)
class MediaSigner:
    key: bytes
    public_url: str
    ttl: float
    origins: frozenset[tuple[str, str]]
    token: str = field(default="", repr=False)  # Slack's bot token, sent only to ``origins``

    def proxies(self, url: str) -> bool:
        parts = urlsplit(url)
        return (parts.scheme, parts.netloc) in self.origins

    def url_for(self, file_url: str, now: float) -> str:
        """Our signed URL for a Slack file, valid ``ttl`` seconds from ``now``."""
        ident = base64.urlsafe_b64encode(file_url.encode()).decode().rstrip("=")
        exp = int(now + self.ttl)
        base = self.public_url.rstrip("/")
        return f"{base}{PREFIX}{ident}?exp={exp}&sig={self._sign(ident, exp)}"

    def attachments(self, items: tuple[Attachment, ...], now: float) -> tuple[Attachment, ...]:
        """The attachments with Slack's file URLs replaced by ours (other URLs unchanged)."""
        return tuple(
            dataclasses.replace(a, url=self.url_for(a.url, now)) if self.proxies(a.url) else a
            for a in items
        )

    def verify(self, ident: str, exp: str, sig: str, now: float) -> str:
        """The Slack URL of a signed id, or :class:`MediaRefused` (403 tampered, 410 expired)."""
        # ASCII digits of a plausible Unix time only: "²".isdigit() is true, and int() of a
        # few thousand digits raises.
        if not (exp.isascii() and exp.isdigit() and len(exp) <= MAX_EXP_DIGITS):
            raise MediaRefused(403, "bad signature")
        expected = self._sign(ident, int(exp))
        given = sig.encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(expected.encode(), given):
            raise MediaRefused(403, "bad signature")
        if now > int(exp):
            raise MediaRefused(410, "this link has expired")
        try:
            url = base64.urlsafe_b64decode(ident + "=" * (-len(ident) % 4)).decode()
        except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError
            raise MediaRefused(403, "bad signature") from None
        if not self.proxies(url):  # signed, but Slack's file host changed in the settings
            raise MediaRefused(404, "no such file")
        return url

    def _sign(self, ident: str, exp: int) -> str:
        return hmac.new(self.key, f"{ident}.{exp}".encode(), hashlib.sha256).hexdigest()


def media_signer(
    *, secret: str, public_url: str, ttl: float, api_base_url: str, token: str
) -> MediaSigner | None:
    """The signer, or None when there is no secret to sign with (no Slack signing secret and
    no ``handoff.media_secret``): agents' files then keep their Slack URL."""
    if not secret:
        return None
    key = hmac.new(secret.encode(), _KEY_CONTEXT, hashlib.sha256).digest()
    return MediaSigner(
        key=key, public_url=public_url, ttl=ttl, origins=slack_origins(api_base_url), token=token
    )


@dataclass(frozen=True, slots=True)
class _Proxy:
    signer: MediaSigner
    token: str
    client: aiohttp.ClientSession


_PROXY: web.AppKey[_Proxy] = web.AppKey("media_proxy", _Proxy)


def mount_media(app: web.Application, signer: MediaSigner) -> None:
    """Serve ``GET /media/slack/{id}`` on ``app`` (its HTTP client lives with the app)."""

    async def client(app: web.Application) -> AsyncIterator[None]:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            app[_PROXY] = _Proxy(signer=signer, token=signer.token, client=session)
            yield

    app.cleanup_ctx.append(client)
    app.router.add_get(ROUTE, serve_media)


async def serve_media(request: web.Request) -> web.StreamResponse:
    proxy = request.app[_PROXY]
    q = request.query
    try:
        url = proxy.signer.verify(
            request.match_info["id"], q.get("exp", ""), q.get("sig", ""), time.time()
        )
    except MediaRefused as exc:
        return web.Response(status=exc.status, text=exc.reason)
    log = get_logger(channel="slack", component="media_proxy")
    try:
        upstream = await _fetch(proxy, url)
    except aiohttp.ClientError as exc:
        log.warning("media_fetch_failed", error=str(exc))
        return web.Response(status=502, text="the file could not be fetched")
    async with upstream:
        if upstream.status != 200:
            log.warning("media_fetch_failed", status=upstream.status)
            status = 404 if upstream.status in (404, 410) else 502
            return web.Response(status=status, text="the file could not be fetched")
        if upstream.content_type == "text/html" and not urlsplit(url).path.endswith(".html"):
            # Slack's sign-in page instead of the file: the app lacks the files:read scope.
            log.warning("media_fetch_failed", reason="Slack answered a web page: files:read?")
            return web.Response(status=502, text="the file could not be fetched")
        response = web.StreamResponse(status=200)
        for name in _PASSED_HEADERS:
            if name in upstream.headers:
                response.headers[name] = upstream.headers[name]
        response.headers["Cache-Control"] = "private, max-age=3600"
        response.headers["X-Content-Type-Options"] = "nosniff"
        await response.prepare(request)
        async for chunk in upstream.content.iter_chunked(_CHUNK):
            await response.write(chunk)
        await response.write_eof()
        return response


async def _fetch(proxy: _Proxy, url: str) -> aiohttp.ClientResponse:
    """GET the file, following Slack's redirects by hand: the token goes to Slack only."""
    for _ in range(_MAX_REDIRECTS + 1):
        headers = {"Authorization": f"Bearer {proxy.token}"} if proxy.signer.proxies(url) else {}
        response = await proxy.client.get(url, headers=headers, allow_redirects=False)
        location = response.headers.get("Location")
        if response.status not in (301, 302, 303, 307, 308) or not location:
            return response
        response.release()
        url = urljoin(url, location)
    raise aiohttp.TooManyRedirects(response.request_info, response.history)
