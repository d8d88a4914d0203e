"""A fake Graph API for the WhatsApp Cloud API: records every ``/messages`` call, answers like
Graph.

``POST /{version}/{phone_number_id}/messages`` with ``Authorization: Bearer <token>`` answers
``{"messaging_product": "whatsapp", "contacts": [{"input", "wa_id"}], "messages": [{"id"}]}``.
A wrong token gets Graph's 401 with error code 190. ``script`` holds answers to give in turn:
``(status, error_json_or_None, headers)``; when it runs out, success.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.support.serve import serve, wait_for_count

Answer = tuple[int, dict[str, Any] | None, dict[str, str]]


def graph_error(code: int, message: str, *, subcode: int | None = None) -> dict[str, Any]:
    """Graph's error body."""
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEfGhIjK",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


@dataclass
class GraphCall:
    at: float
    path: str
    authorization: str | None
    json: Any
    status: int


@dataclass
class FakeGraph:
    access_token: str
    script: list[Answer] = field(default_factory=list)
    calls: list[GraphCall] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def delivered(self) -> list[Any]:
        """Bodies of the calls answered with success, in arrival order."""
        return [c.json for c in self.calls if c.status < 300]

    async def handle(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization")
        body: Any = await request.json()
        answer: Answer = (200, None, {})
        if auth != f"Bearer {self.access_token}":
            answer = (401, graph_error(190, "Invalid OAuth access token."), {})
        elif self.script:
            answer = self.script.pop(0)
        status, error, headers = answer
        self.calls.append(GraphCall(time.monotonic(), request.path, auth, body, status))
        self.arrived.set()
        if status >= 300:
            return web.json_response(error or {}, status=status, headers=headers)
        to = body.get("to", "")
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to.removeprefix("+")}],
                "messages": [{"id": f"wamid.fake{next(self._ids)}"}],
            }
        )

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[Any]:
        """Wait until ``count`` messages were accepted; return their bodies."""
        return await wait_for_count(self.arrived, lambda: self.delivered, count, timeout, "sends")


async def start_graph(fake: FakeGraph, version: str = "v21.0") -> tuple[web.AppRunner, str]:
    """Serve ``fake``; answers the runner and the ``api_base_url`` to configure."""
    app = web.Application()
    app.router.add_post(f"/{version}/{{phone_number_id}}/messages", fake.handle)
    runner, base = await serve(app)
    return runner, f"{base}/{version}"


# --- Webhook payloads: the authentic fixtures, and new notifications built like them ---

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads" / "whatsapp_cloud"
APP_SECRET = "test_app_secret_0123456789abcdef"  # the secret the fixtures were signed with


def fixture(name: str) -> tuple[bytes, dict[str, str]]:
    """A fixture's exact bytes and the headers Meta signed them with."""
    signed = json.loads((PAYLOADS / "signatures.json").read_text())
    [entry] = [f for f in signed["fixtures"] if f["fixture"].endswith(f"/{name}")]
    assert entry["app_secret"] == APP_SECRET
    return (PAYLOADS / name).read_bytes(), dict(entry["headers"])


def notification(
    *,
    messages: Sequence[dict[str, Any]] = (),
    statuses: Sequence[dict[str, Any]] = (),
    wa_id: str = "14155238886",
    name: str = "Ann",
) -> bytes:
    """A notification in the fixtures' envelope."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "1122334455667"},
        "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
    }
    if messages:
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1234567890", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(body, indent=2).encode()


def text_message(wamid: str, text: str, *, sender: str = "14155238886") -> dict[str, Any]:
    return {
        "from": sender,
        "id": wamid,
        "timestamp": "1697043223",
        "type": "text",
        "text": {"body": text},
    }
