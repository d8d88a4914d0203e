"""A fake platform API: an aiohttp server that records every request and answers as told.

Used as the API channel's callback URL (the business's own app). ``script`` is a list of
responses to give in turn, e.g. ``[(429, {"Retry-After": "1"}), (200, {})]``; when it runs out
``default`` answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from channels.api import signature_matches
from tests.support.serve import serve, wait_for_count


@dataclass
class Recorded:
    at: float
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeCallback:
    secret: str
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    default: tuple[int, dict[str, str]] = (200, {})
    delay: float = 0.0  # seconds before answering each request
    # per conversation_id: the next request of that conversation waits this long (once)
    delays: dict[str, float] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def delivered(self) -> list[Any]:
        """Bodies of the requests answered with success, in arrival order."""
        return [r.json for r in self.requests if r.status < 300]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        delay = self.delay
        if self.delays:
            with contextlib.suppress(ValueError, AttributeError):
                delay = self.delays.pop(json.loads(body).get("conversation_id"), delay)
        if delay:
            await asyncio.sleep(delay)
        headers: dict[str, str] = {}
        if not signature_matches(self.secret, body, request.headers.get("X-Frontdesk-Signature")):
            status = 401
        else:
            status, headers = self.script.pop(0) if self.script else self.default
        self.requests.append(Recorded(time.monotonic(), dict(request.headers), body, status))
        self.arrived.set()
        return web.Response(status=status, headers=headers)

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[Any]:
        """Wait until ``count`` messages have been delivered; return them."""
        return await wait_for_count(
            self.arrived, lambda: self.delivered, count, timeout, "delivered replies"
        )


async def start_callback(fake: FakeCallback, port: int = 0) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/callback", fake.handle)
    runner, base = await serve(app, port)
    return runner, f"{base}/callback"
