"""The console's tests: the real gateway (fake Slack, Telegram and Twilio; real Redis) with
console users, and a scripted set of conversations run through the pipeline."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import CookieJar
from aiohttp.test_utils import TestServer

from console.settings import ConsoleSettings
from console.users import save_user
from frontdesk.app import create_app
from tests.handoff.conftest import PHONE, Desk, Http, TestDialog, channels_for, settings_for
from tests.handoff.conftest import desk as desk  # the fixture
from tests.support.waiting import until

ADMIN, VIEWER = ("ada", "ada-password-1"), ("vic", "vic-password-1")
OTHER_PHONE = "+15555550177"


@dataclass
class Project:
    root: Path
    users_file: Path
    kb: Path


@pytest.fixture
def project(tmp_path: Path) -> Project:
    users = tmp_path / "console-users.json"
    save_user(str(users), *ADMIN[:1], "admin", ADMIN[1])
    save_user(str(users), VIEWER[0], "viewer", VIEWER[1])
    kb = tmp_path / "knowledge"
    kb.mkdir()
    return Project(tmp_path, users, kb)


async def open_console(desk: Desk, aiohttp_client: Any, redis_url: str, project: Project,
                       **handoff: Any) -> Http:  # fmt: skip
    settings = settings_for(redis_url, *desk.urls, **handoff)
    nlu = project.root / "nlu.yml"
    nlu.write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hello\n    - hi there\n'
    )
    desk.settings = settings.model_copy(
        update={
            "console": ConsoleSettings(users_file=str(project.users_file)),
            "knowledge": settings.knowledge.model_copy(update={"path": str(project.kb)}),
            "nlu": settings.nlu.model_copy(update={"data": (str(nlu),)}),
        }
    )
    app = create_app(desk.settings, dialog=TestDialog(), channels=channels_for(desk.settings))
    # public_url is https: the session cookie is Secure, so the client treats the test server
    # (plain http on 127.0.0.1) as a secure origin, as a browser does behind TLS.
    server = TestServer(app)
    await server.start_server()
    jar = CookieJar(unsafe=True, treat_as_secure_origin=[str(server.make_url("/"))])
    desk.client = await aiohttp_client(server, cookie_jar=jar)
    return desk.client


async def login(client: Http, user: tuple[str, str]) -> str:
    """Log in through the form; returns the page's CSRF token."""
    form = await client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', await form.text())
    assert token is not None
    resp = await client.post(
        "/console/login",
        data={"user": user[0], "password": user[1], "csrf": token.group(1), "next": "/console/"},
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    cookie = resp.headers["Set-Cookie"]  # public_url is https
    assert "fd_console=" in cookie and "HttpOnly" in cookie and "Secure" in cookie
    assert "SameSite=Strict" in cookie and "Path=/console" in cookie
    page = await client.get("/console/review")
    csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert csrf is not None
    return csrf.group(1)


async def run_conversations(desk: Desk) -> dict[str, str]:
    """Bot-only, handed off and resolved with a rating, handed off and returned to the bot,
    handed off and abandoned: the keys of the conversations."""
    replies = lambda: len(desk.telegram.of("sendMessage"))  # noqa: E731
    await desk.telegram_says("hello")
    await desk.telegram_says("agent")
    card = await desk.card_ts(1)
    await desk.press("handoff:claim", "UALICE", "alice", card)
    await desk.agent_says("Happy to help, write to help@example.com", "UALICE", card)
    await desk.agent_says("// note: VIP customer", "UALICE", card)
    await desk.press("handoff:resolve", "UALICE", "alice", card)
    await until(lambda: any("rate" in c.params["text"] for c in desk.telegram.of("sendMessage")))
    await desk.telegram_presses("csat:5")
    await until(lambda: replies() >= 6)
    # a bot-only SMS customer who leaves their number
    await desk.sms_says("hi, call me on +15555550199")
    # another SMS customer: handed off, returned to the bot by Bob
    sid = "SM" + "9" * 32
    await desk.twilio_says("01_inbound_sms", Body="agent", MessageSid=sid, SmsSid=sid,
                           From=OTHER_PHONE)  # fmt: skip
    card2 = await desk.card_ts(2)
    await desk.agent_says("!bot", "UBOB", card2)
    return {"rated": "telegram:1111111", "bot": f"tel:{PHONE}", "returned": f"tel:{OTHER_PHONE}"}


async def overview(client: Http, **query: str) -> dict[str, Any]:
    resp = await client.get("/console/api/overview", params={"preset": "24h", **query})
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
