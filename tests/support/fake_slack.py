"""A fake Slack Web API: an aiohttp server that records every call and answers like Slack.

Serves ``POST /api/<method>``; point ``AsyncWebClient(base_url=...)`` (the adapter's
``api_base_url``) at :attr:`FakeSlack.base_url`. Answers ``auth.test`` and
``chat.postMessage`` as Slack does (HTTP 200 with ``ok``), ``invalid_auth`` for a wrong bearer
token, ``unknown_method`` otherwise. ``script`` holds answers to give, in turn, to
``chat.postMessage`` before the normal one, e.g.
``[Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"})]``; a reply with
``disconnect=True`` drops the connection without answering.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from tests.support.serve import serve, wait_for_count

BOT_USER_ID = "UBOT1"
BOT_ID = "BBOT1"
TEAM_ID = "T111"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: dict[str, Any] | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    disconnect: bool = False


@dataclass
class Call:
    method: str  # Web API method, e.g. "chat.postMessage"
    headers: dict[str, str]
    body: Any  # the JSON (or form fields) sent
    status: int
    answer: Any = None  # the JSON answered

    @property
    def ok(self) -> bool:
        return self.status == 200 and isinstance(self.answer, dict) and bool(self.answer.get("ok"))


@dataclass
class FakeSlack:
    token: str
    script: list[Reply] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    base_url: str = ""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def posts(self) -> list[dict[str, Any]]:
        """Bodies of the chat.postMessage calls Slack accepted, in order."""
        return [c.body for c in self.calls if c.method == "chat.postMessage" and c.ok]

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        raw = await request.read()
        if request.content_type == "application/json":
            body: Any = json.loads(raw or b"{}")
        else:
            body = dict(await request.post())
        reply = self._answer(method, request.headers.get("Authorization"), body)
        self.calls.append(Call(method, dict(request.headers), body, reply.status, reply.body))
        self.arrived.set()
        if reply.disconnect:
            assert request.transport is not None
            request.transport.close()
            raise asyncio.CancelledError  # nothing more is written
        if isinstance(reply.body, str):
            return web.Response(status=reply.status, text=reply.body, headers=reply.headers)
        return web.json_response(reply.body, status=reply.status, headers=reply.headers)

    def _answer(self, method: str, auth: str | None, body: Any) -> Reply:
        if auth != f"Bearer {self.token}":
            return Reply(body={"ok": False, "error": "invalid_auth"})
        if method == "auth.test":
            return Reply(
                body={
                    "ok": True,
                    "url": "https://example.slack.com/",
                    "team": "Example",
                    "user": "frontdesk",
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "bot_id": BOT_ID,
                    "is_enterprise_install": False,
                }
            )
        if method != "chat.postMessage":
            return Reply(body={"ok": False, "error": "unknown_method"})
        if self.script:
            return self.script.pop(0)
        if not body.get("channel"):
            return Reply(body={"ok": False, "error": "channel_not_found"})
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        message = {"type": "message", "text": body.get("text"), "bot_id": BOT_ID, "ts": ts}
        if body.get("blocks"):
            message["blocks"] = body["blocks"]
        return Reply(body={"ok": True, "channel": body["channel"], "ts": ts, "message": message})

    async def wait_for_posts(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Wait until Slack accepted ``count`` chat.postMessage calls; return their bodies."""
        return await wait_for_count(self.arrived, self.posts, count, timeout, "posts")


async def start_fake_slack(fake: FakeSlack) -> web.AppRunner:
    """Serve ``fake`` on a free local port; sets ``fake.base_url`` (ending in ``/api/``)."""
    app = web.Application()
    app.router.add_post("/api/{method}", fake.handle)
    runner, base = await serve(app)
    fake.base_url = f"{base}/api/"
    return runner


# --------------------------------------------------------------------------- inbound helpers

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads" / "slack"
FIXTURE_SECRET = "test-signing-secret"  # what signed_fixtures.json was signed with
FIXTURE_TIME = 1700000000


def payload(name: str) -> bytes:
    """A stored Slack payload, byte for byte."""
    return (PAYLOADS / name).read_bytes()


def fixture_headers(name: str) -> dict[str, str]:
    """The headers Slack sent with fixture ``name`` (signed at FIXTURE_TIME)."""
    signed = json.loads(payload("signed_fixtures.json"))
    for entry in signed["fixtures"]:
        if entry["fixture"] == f"slack/{name}":
            return dict(entry["headers"])
    raise KeyError(name)


def signed_headers(
    body: bytes, secret: str, *, timestamp: int | None = None, form: bool = False
) -> dict[str, str]:
    """Headers signing ``body`` now (or at ``timestamp``), with slack_sdk's own signer."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    content_type = "application/x-www-form-urlencoded" if form else "application/json"
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }


def form_body(payload_json: dict[str, Any]) -> bytes:
    """An interactivity body as Slack posts it: ``payload=<url-encoded JSON>``."""
    return urlencode({"payload": json.dumps(payload_json)}).encode()
