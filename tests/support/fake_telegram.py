"""A fake Telegram Bot API: records every call and answers like ``api.telegram.org``.

Point python-telegram-bot at it with ``channels.telegram.api_base_url`` = :attr:`base_url`
(the SDK calls ``{base}/bot<token>/<method>``, form-encoded, nested objects as JSON strings).
It answers getMe, sendMessage (and the media sends), answerCallbackQuery, setWebhook,
deleteWebhook and getUpdates (long polling over :meth:`push_update`). ``script`` holds answers
to give, per method, before the normal one, e.g. :func:`flood_wait`, :func:`server_error`,
:func:`blocked`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.serve import serve

TOKEN = "123456789:TEST-TOKEN_abcdefghijklmnopqrstuvwxyz"
BOT_USER = {"id": 123456789, "is_bot": True, "first_name": "TestBot", "username": "test_bot"}

Answer = tuple[int, Any]  # HTTP status, JSON body (or str for a non-JSON body)


def flood_wait(seconds: int) -> Answer:
    return 429, {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {seconds}",
        "parameters": {"retry_after": seconds},
    }


def server_error(status: int = 500) -> Answer:
    if status == 502:
        return 502, "<html><body><h1>502 Bad Gateway</h1></body></html>"
    return status, {"ok": False, "error_code": status, "description": "Internal Server Error"}


def blocked() -> Answer:
    return 403, {
        "ok": False,
        "error_code": 403,
        "description": "Forbidden: bot was blocked by the user",
    }


def chat_not_found() -> Answer:
    return 400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}


@dataclass
class Call:
    at: float
    method: str
    params: dict[str, Any]
    status: int

    def json(self, name: str) -> Any:
        """A nested parameter (PTB sends reply_markup etc. as JSON inside the form)."""
        return json.loads(self.params[name])


@dataclass
class FakeTelegram:
    token: str = TOKEN
    script: dict[str, list[Answer]] = field(default_factory=dict)
    delay: dict[str, float] = field(default_factory=dict)  # seconds before answering a method
    calls: list[Call] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""
    _next_message_id: int = 1000
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def of(self, method: str) -> list[Call]:
        """Calls of ``method`` that the fake answered with success."""
        return [c for c in self.calls if c.method == method and c.status == 200]

    def push_update(self, update: dict[str, Any]) -> None:
        self.updates.append(update)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, method: str, count: int = 1, timeout: float = 20.0) -> list[Call]:
        """Wait until ``count`` successful calls of ``method`` were made; return them."""
        deadline = time.monotonic() + timeout
        while len(self.of(method)) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [(c.method, c.status) for c in self.calls]
                raise AssertionError(f"expected {count} {method} calls, got {seen}")
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.5))
        return self.of(method)

    async def handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        if request.content_type == "application/json":
            params = dict(await request.json())
        else:
            params = dict(await request.post())
        if self.delay.get(method):
            await asyncio.sleep(self.delay[method])
        queued = self.script.get(method)
        status, body = queued.pop(0) if queued else (200, None)
        if status == 200 and body is None:
            body = {"ok": True, "result": await self._result(method, params)}
        self.calls.append(Call(time.monotonic(), method, params, status))
        await self._notify()
        if isinstance(body, str):
            return web.Response(status=status, text=body, content_type="text/html")
        return web.json_response(body, status=status)

    async def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "getUpdates":
            return await self._get_updates(params)
        if method.startswith("send"):
            self._next_message_id += 1
            chat_id = int(params["chat_id"])
            message: dict[str, Any] = {
                "message_id": self._next_message_id,
                "date": int(time.time()),
                "from": BOT_USER,
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
            }
            if "text" in params:
                message["text"] = params["text"]
            return message
        if method == "getFile":
            file_id = params["file_id"]
            return {
                "file_id": file_id,
                "file_unique_id": "u1",
                "file_path": f"photos/{file_id}.jpg",
            }
        return True  # answerCallbackQuery, setWebhook, deleteWebhook

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        while not self.updates and time.monotonic() < deadline:
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._changed.wait(), timeout=max(0.01, deadline - time.monotonic())
                    )
        limit = int(params.get("limit") or 100)
        return self.updates[:limit]


async def start_fake_telegram(fake: FakeTelegram) -> web.AppRunner:
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", fake.handle)
    runner, fake.base_url = await serve(app)
    return runner
