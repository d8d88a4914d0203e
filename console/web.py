"""The console's HTTP side: a sub-application at ``/console`` whose middleware refuses every
route without a session (pages redirect to the login form, the API answers 401), checks the
CSRF token on every POST and the admin role where needed, and sets strict security headers.
The login form and the static assets (no data) are the only exceptions."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any
from urllib.parse import quote

from aiohttp import web
from jinja2 import Environment, PackageLoader, select_autoescape

from common.logging import get_logger
from console.auth import COOKIE, PRE_COOKIE, Audit, Login, Sessions, same
from console.users import UserError, load_users, verify
from console.wiring import Wiring
from gateway.handoff.hours import BusinessHours
from gateway.store import Store

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOGIN: web.RequestKey[Login] = web.RequestKey("console_login", Login)
ERROR: web.RequestKey[str] = web.RequestKey("console_error", str)
PUBLIC = ("/console/login", "/console/static/")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
STATIC = {"console.css": "text/css", "console.js": "text/javascript"}


class Console:
    """What the console's handlers share."""

    def __init__(self, wiring: Wiring, store: Store, redis: Any) -> None:
        self.wiring = wiring
        self.store = store
        self.redis = redis
        c = wiring.settings
        self.sessions = Sessions(
            redis, ttl=c.session_ttl, max_failures=c.max_failures, lockout=c.lockout
        )
        self.audit = Audit(redis)
        self.secure = wiring.public_url.startswith("https://")
        self.hours = BusinessHours.from_settings(wiring.business_hours)
        self.templates = Environment(
            loader=PackageLoader("console", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
        self.templates.filters.update(day=_day, when=_when, dur=_dur, pct=_pct)

    def render(
        self, request: web.Request, name: str, status: int = 200, **ctx: Any
    ) -> web.Response:
        login = request.get(LOGIN)
        body = self.templates.get_template(name).render(login=login, path=request.path, **ctx)
        return web.Response(text=body, content_type="text/html", status=status)

    def is_open(self, hour: float) -> bool:
        return self.hours.is_open(hour + 1800)


def _day(at: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(at))


def _when(at: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(at)) if at else "\u2013"


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "\u2013"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def _pct(value: float | None) -> str:
    return "\u2013" if value is None else f"{value:.0%}"


CONSOLE: web.AppKey[Console] = web.AppKey("console", Console)


def admin_only(handler: Handler) -> Handler:
    handler.admin = True  # type: ignore[attr-defined]
    return handler


def _api(request: web.Request) -> bool:
    return request.path.startswith(("/console/api/", "/console/export/"))


def _headers(response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cache-Control", "no-store")


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    console = request.app[CONSOLE]
    if request.path.startswith(PUBLIC):
        response = await handler(request)
        _headers(response)
        return response
    login = await console.sessions.get(request.cookies.get(COOKIE))
    if login is None:
        if _api(request) or request.method != "GET":
            raise web.HTTPUnauthorized(text="log in first", headers={"Cache-Control": "no-store"})
        raise web.HTTPSeeOther("/console/login?next=" + quote(request.path_qs, safe=""))
    if request.method not in ("GET", "HEAD"):
        sent = request.headers.get("X-CSRF-Token", "")
        if not sent and request.content_type == "application/x-www-form-urlencoded":
            sent = str((await request.post()).get("csrf", ""))
        if not same(sent, login.csrf):
            get_logger().warning("console_csrf_refused", user=login.user, path=request.path)
            raise web.HTTPForbidden(text="missing or wrong CSRF token")
    if getattr(handler, "admin", False) and not login.admin:
        raise web.HTTPForbidden(text="this needs the admin role")
    request[LOGIN] = login
    response = await handler(request)
    _headers(response)
    return response


def _static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in STATIC:
        raise web.HTTPNotFound()
    body = (resources.files("console") / "static" / name).read_bytes()
    return web.Response(
        body=body, content_type=STATIC[name], headers={"Cache-Control": "public, max-age=300"}
    )


async def static(request: web.Request) -> web.Response:
    return _static(request)


def _safe_next(value: str) -> str:
    """Only a path inside the console (never another site)."""
    return value if value.startswith("/console/") and not value.startswith("//") else "/console/"


async def login_form(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    token = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)
    users = _users(console)
    response = console.render(
        request,
        "login.html",
        csrf=token,
        error=request.get(ERROR),
        next=_safe_next(request.query.get("next", "")),
        no_users=not users,
    )
    response.set_cookie(
        PRE_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=console.secure,
        path="/console/login",
        max_age=3600,
    )
    return response


def _users(console: Console) -> dict[str, Any]:
    try:
        return dict(load_users(console.wiring.settings.users_file))
    except (UserError, ValueError, KeyError) as exc:
        get_logger().error("console_users_invalid", error=str(exc))
        return {}


async def login_submit(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    form = await request.post()
    name, password = str(form.get("user", "")).strip(), str(form.get("password", ""))
    if not same(str(form.get("csrf", "")), request.cookies.get(PRE_COOKIE, "")):
        raise web.HTTPForbidden(text="missing or wrong CSRF token: reload the login page")
    address = request.remote or "unknown"
    wait = await console.sessions.locked(name, address)
    if wait:
        request[ERROR] = f"Too many failed attempts: try again in {wait // 60 + 1} min."
        response = await login_form(request)
        response.set_status(429)
        response.headers["Retry-After"] = str(wait)
        return response
    user = verify(_users(console), name, password)
    if user is None:
        await console.sessions.failed(name, address)
        get_logger().warning("console_login_failed", user=name, address=address)
        request[ERROR] = "Wrong user name or password."
        response = await login_form(request)
        response.set_status(401)
        return response
    await console.sessions.succeeded(name)
    login = await console.sessions.open(user.name, user.role)
    await console.audit.add(user.name, "login", role=user.role, address=address)
    response = web.HTTPSeeOther(_safe_next(str(form.get("next", ""))))
    response.set_cookie(
        COOKIE,
        login.token,
        httponly=True,
        samesite="Strict",
        secure=console.secure,
        path="/console",
        max_age=int(console.wiring.settings.session_ttl),
    )
    response.del_cookie(PRE_COOKIE, path="/console/login")
    raise response


async def logout(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    login: Login = request[LOGIN]
    await console.sessions.close(login.token)
    await console.audit.add(login.user, "logout")
    response = web.HTTPSeeOther("/console/login")
    response.del_cookie(COOKIE, path="/console")
    raise response


def build(console: Console) -> web.Application:
    from console import pages

    sub = web.Application(middlewares=[guard])
    sub[CONSOLE] = console
    sub.router.add_get("/login", login_form)
    sub.router.add_post("/login", login_submit)
    sub.router.add_get("/static/{name}", static)
    sub.router.add_post("/logout", logout)
    pages.add_routes(sub)
    return sub
