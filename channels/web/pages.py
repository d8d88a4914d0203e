"""The web channel's HTTP side: the full-page chat (``GET /``), the widget's script and style,
the WebSocket route, and the headers that keep them to the allowed sites.

The static files ship in the package (``channels/web/static``); ``widget.js`` is served with
the configured texts filled in, so no build step is ever needed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import web

from channels.web.session import MAX_FRAME, Connection

if TYPE_CHECKING:
    from channels.web.adapter import WebChannel

SOCKET_PATH = "/web/socket"
CONFIG_MARK = "/*FRONTDESK_CONFIG*/null"


def _static(name: str) -> str:
    return (resources.files("channels.web") / "static" / name).read_text(encoding="utf-8")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def origin_allowed(origin: str | None, request_host: str, own: str, allowed: Sequence[str]) -> bool:
    """The gateway's own pages always; other sites only when listed (``*``: any)."""
    if not origin:
        return False
    origin = origin.lower().rstrip("/")
    if origin == own or urlsplit(origin).netloc == request_host.lower():
        return True
    return "*" in allowed or origin in {o.lower().rstrip("/") for o in allowed}


class Pages:
    def __init__(self, channel: WebChannel, *, public_url: str) -> None:
        self.channel = channel
        self.own = origin_of(public_url)
        settings = channel.settings
        config = {"socket": SOCKET_PATH, "strings": channel.strings}
        # "<" escaped: the JSON sits in a script and must never close a tag.
        injected = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")
        self.script = _static("widget.js").replace(CONFIG_MARK, injected).encode()
        self.style = _static("widget.css").encode()
        title = channel.strings["title"].replace("&", "&amp;").replace("<", "&lt;")
        self.page = _static("index.html").replace("{{title}}", title).encode()
        ancestors = " ".join(o for o in settings.allowed_origins if o != "*")
        self.frame_ancestors = "*" if "*" in settings.allowed_origins else f"'self' {ancestors}"

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/", self.index)
        app.router.add_get("/widget.js", self.widget_js)
        app.router.add_get("/widget.css", self.widget_css)
        app.router.add_get(SOCKET_PATH, self.socket)

    def _allowed(self, request: web.Request) -> bool:
        return origin_allowed(
            request.headers.get("Origin"),
            request.host,
            self.own,
            self.channel.settings.allowed_origins,
        )

    def _asset(self, request: web.Request, body: bytes, content_type: str) -> web.Response:
        headers = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
        origin = request.headers.get("Origin")
        if origin and self._allowed(request):
            headers |= {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        return web.Response(body=body, content_type=content_type, headers=headers)

    async def index(self, request: web.Request) -> web.Response:
        csp = (
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            f"img-src 'self' https: http: data:; frame-ancestors {self.frame_ancestors}; "
            "base-uri 'none'; form-action 'none'"
        )
        headers = {
            "Content-Security-Policy": csp,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        }
        return web.Response(body=self.page, content_type="text/html", headers=headers)

    async def widget_js(self, request: web.Request) -> web.Response:
        return self._asset(request, self.script, "application/javascript")

    async def widget_css(self, request: web.Request) -> web.Response:
        return self._asset(request, self.style, "text/css")

    async def socket(self, request: web.Request) -> web.StreamResponse:
        if not self._allowed(request):
            self.channel.stats["origin_refused"] += 1
            self.channel.log_event("web_origin_refused", origin=request.headers.get("Origin"))
            return web.Response(status=403, text="origin not allowed")
        ws = web.WebSocketResponse(heartbeat=25.0, max_msg_size=MAX_FRAME)
        await ws.prepare(request)
        self.channel.sockets.add(ws)
        try:
            await Connection(self.channel, ws, request.remote or "-").run()
        finally:
            self.channel.sockets.discard(ws)
        return ws
