"""The website chat under test: a gateway with the web channel (and optionally Slack agents),
and a widget client that speaks the widget's WebSocket protocol."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from common.messages import Button, CustomerMessage
from dialogs.base import Handoff, Outcome, Reply, SystemEvent, TurnContext
from frontdesk.config import Settings
from tests.support.settings import quick_settings

PUBLIC_URL = "https://chat.example.com"
SHOP = "https://shop.example.com"
TOKEN_SECRET = "web-test-token-secret"
IDENTITY_SECRET = "web-test-identity-secret"


class WebDialog:
    """ "buttons" offers two buttons; "agent" hands off; anything else is echoed."""

    async def respond(
        self, state: Mapping[str, Any], event: CustomerMessage | SystemEvent, context: TurnContext
    ) -> Outcome:
        if isinstance(event, SystemEvent):
            return Outcome(state=dict(state), replies=[Reply(text="Welcome back!")])
        said = event.button_payload or event.text
        if said == "buttons":
            buttons = (Button(title="Yes", payload="/yes"), Button(title="No", payload="/no"))
            return Outcome(state=dict(state), replies=[Reply(text="Pick one", buttons=buttons)])
        if said == "agent":
            return Outcome(
                state=dict(state),
                replies=[Reply(text="Let me get you a person.")],
                handoff=Handoff(trigger="keyword", reason="asked for a person"),
            )
        return Outcome(state=dict(state), replies=[Reply(text=f"echo: {said}")])


def web_settings(store_url: str, *, slack: Mapping[str, Any] | None = None, **web: Any) -> Settings:
    channels: dict[str, Any] = {
        "web": {
            "token_secret": TOKEN_SECRET,
            "identity_secret": IDENTITY_SECRET,
            "allowed_origins": [SHOP],
            **web,
        }
    }
    handoff: dict[str, Any] = {}
    if slack is not None:
        channels["slack"] = dict(slack)
        handoff = {"slack_channel": "CAGENTS", "agents": {"UALICE": "Alice"}, "tick": 0.1}
    return quick_settings(
        public_url=PUBLIC_URL, store_url=store_url, channels=channels, handoff=handoff
    )


class Widget:
    """One widget connection, as the browser's script speaks to the gateway."""

    def __init__(self, session: aiohttp.ClientSession, url: str, origin: str = SHOP) -> None:
        self.session, self.url, self.origin = session, url, origin
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.frames: list[dict[str, Any]] = []
        self.token: str | None = None
        self.closed: asyncio.Event = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def open(self, **hello: Any) -> dict[str, Any]:
        """Connect and say hello; the first frame back (welcome or error)."""
        self.ws = await self.session.ws_connect(self.url, headers={"Origin": self.origin})
        self.closed.clear()
        await self.ws.send_str(json.dumps({"type": "hello", **hello}))
        start = len(self.frames)
        self._reader = asyncio.create_task(self._read(self.ws))
        first = await self.wait(lambda f: f["type"] in ("welcome", "error"), since=start)
        if first["type"] == "welcome" and first.get("token"):
            self.token = first["token"]
        return first

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                self.frames.append(json.loads(message.data))
        self.closed.set()

    async def send(self, text: str = "", *, client_id: str | None = None, **extra: Any) -> str:
        assert self.ws is not None
        client_id = client_id or uuid.uuid4().hex
        frame = {"type": "message", "client_id": client_id, "text": text, **extra}
        await self.ws.send_str(json.dumps(frame))
        return client_id

    async def say(self, text: str, **extra: Any) -> dict[str, Any]:
        """Send and wait for the acknowledgement (or error) of that message."""
        client_id = await self.send(text, **extra)
        return await self.wait(
            lambda f: f.get("client_id") == client_id and f["type"] in ("ack", "error")
        )

    async def wait(
        self, check: Callable[[dict[str, Any]], bool], *, since: int = 0, timeout: float = 15.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for frame in self.frames[since:]:
                if check(frame):
                    return frame
            if time.monotonic() > deadline:
                raise AssertionError(f"no such frame; got {self.frames}")
            await asyncio.sleep(0.02)

    async def wait_text(self, text: str, *, since: int = 0) -> dict[str, Any]:
        return await self.wait(lambda f: f["type"] == "entry" and f["text"] == text, since=since)

    def entries(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == "entry"]

    def texts(self) -> list[str]:
        return [f"{f['from']}: {f['text']}" for f in self.entries()]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await self._reader
