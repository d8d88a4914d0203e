"""A gateway with Slack (agents), Telegram and Twilio (customers) against fake platform APIs,
real Redis, and a small test dialog that hands off when the customer writes "agent"."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from channels.base import Channel
from channels.slack import SlackChannel
from channels.telegram import SECRET_HEADER, TelegramChannel
from channels.twilio import TwilioChannel
from common.messages import CustomerMessage
from dialogs.base import Handoff, Outcome, Reply, SystemEvent, TurnContext
from frontdesk.app import create_app
from frontdesk.config import Settings
from gateway.http import GATEWAY
from gateway.runtime import Gateway
from gateway.sessions import Session, decode_session
from tests.support.fake_telegram import FakeTelegram, start_fake_telegram
from tests.support.fake_twilio import FakeTwilio, fixture_params, signed_webhook, start_fake_twilio
from tests.support.settings import quick_settings
from tests.support.slack_agents import (
    AGENTS,
    SECRET,
    TOKEN,
    SlackWorkspace,
    button_press,
    signed,
    start_workspace,
    thread_reply,
)
from tests.support.waiting import until as until

Client = Any
Http = TestClient[web.Request, web.Application]
TELEGRAM_SECRET = "handoff-telegram-secret"
ACCOUNT_SID = "AC" + "4" * 32
AUTH_TOKEN = "handoff-twilio-token"
PUBLIC_URL = "https://example.com"
SMS_NUMBER = "+15555550100"
WHATSAPP_NUMBER = "+14155238886"
PHONE = "+15555550123"
TELEGRAM_PAYLOADS = Path(__file__).parent.parent / "payloads" / "telegram"
TELEGRAM_USER = 1111111


class TestDialog:
    """Hands off on "agent"; remembers an order number; greets the customer back."""

    async def respond(
        self, state: Mapping[str, Any], event: CustomerMessage | SystemEvent, context: TurnContext
    ) -> Outcome:
        slots = dict(context.slots)
        if isinstance(event, SystemEvent):
            order = slots.get("order_id")
            text = f"Welcome back! Anything else about order {order}?" if order else "Welcome back!"
            return Outcome(state=dict(state), replies=[Reply(text=text)], slots=slots)
        text = event.text or event.button_payload or ""
        if order := re.search(r"order (\d+)", text):
            slots["order_id"] = order.group(1)
        if text.strip().lower() == "agent":
            return Outcome(
                state=dict(state),
                replies=[Reply(text="Let me get you a person.")],
                slots=slots,
                handoff=Handoff(
                    trigger="keyword", reason="asked for a person", summary="Order question"
                ),
                debug={"intent": "human_handoff", "confidence": 0.93},
            )
        return Outcome(  # it understood nothing: a miss for the review inbox
            state=dict(state), replies=[Reply(text=f"bot: {text}")], slots=slots,
            debug={"intent": None},
        )  # fmt: skip


def settings_for(
    redis_url: str, slack: str, telegram: str, twilio: str, **handoff: Any
) -> Settings:
    channels: dict[str, Any] = {
        "slack": {"bot_token": TOKEN, "signing_secret": SECRET, "api_base_url": slack},
        "telegram": {
            "token": "123456789:TEST-TOKEN_abcdefghijklmnopqrstuvwxyz",
            "secret_token": TELEGRAM_SECRET,
            "api_base_url": telegram,
        },
        "twilio": {
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "sms_number": SMS_NUMBER,
            "whatsapp_number": WHATSAPP_NUMBER,
            "api_base_url": twilio,
        },
    }
    desk = {
        "slack_channel": AGENTS,
        "agents": {"UALICE": "Alice", "UBOB": "Bob"},
        "tick": 0.1,
        "relay_attempts": 60,
        **handoff,
    }
    return quick_settings(
        public_url=PUBLIC_URL, store_url=redis_url, channels=channels, handoff=desk
    )


def channels_for(settings: Settings) -> dict[str, Channel]:
    c = settings.channels
    slack = SlackChannel(
        bot_token=c.slack.bot_token,
        signing_secret=c.slack.signing_secret,
        api_base_url=c.slack.api_base_url,
        handoff_channel=settings.handoff.slack_channel,
    )
    twilio = TwilioChannel(c.twilio, public_url=settings.server.public_url)
    return {
        "slack": slack,
        "telegram": TelegramChannel.from_settings(c.telegram),
        "sms": twilio,
        "whatsapp": twilio,
    }


class Desk:
    """Both ends of a handoff: the customer's app and the agents' Slack channel."""

    def __init__(
        self, slack: SlackWorkspace, telegram: FakeTelegram, twilio: FakeTwilio, urls: list[str]
    ) -> None:
        self.slack, self.telegram, self.twilio = slack, telegram, twilio
        self.urls = urls
        self.client: Http | None = None
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------- app
    async def open(self, aiohttp_client: Client, redis_url: str, **handoff: Any) -> Http:
        self.settings = settings_for(redis_url, *self.urls, **handoff)
        app = create_app(self.settings, dialog=TestDialog(), channels=channels_for(self.settings))
        self.client = await aiohttp_client(app)
        return self.client

    @property
    def gateway(self) -> Gateway:
        assert self.client is not None
        return self.client.app[GATEWAY]

    async def session(self, key: str) -> Session:
        stored = await self.gateway.store.load_session(key)
        assert stored is not None
        return decode_session(stored.data)

    def next_id(self) -> int:
        return next(self._ids)

    # -------------------------------------------------------------- customer
    async def telegram_says(self, text: str) -> None:
        update = json.loads((TELEGRAM_PAYLOADS / "01b_text_message_plain.json").read_text())
        n = self.next_id()
        update["update_id"] = 20000 + n
        update["message"]["message_id"] = 5000 + n
        update["message"]["text"] = text
        await self._telegram(update)

    async def telegram_presses(self, data: str) -> None:
        update = json.loads((TELEGRAM_PAYLOADS / "03_callback_query.json").read_text())
        update["update_id"] = 20000 + self.next_id()
        update["callback_query"]["data"] = data
        update["callback_query"]["id"] = f"cb-{self.next_id()}"
        await self._telegram(update)

    async def _telegram(self, update: dict[str, Any]) -> None:
        assert self.client is not None
        resp = await self.client.post(
            "/webhooks/telegram",
            data=json.dumps(update),
            headers={"Content-Type": "application/json", SECRET_HEADER: TELEGRAM_SECRET},
        )
        assert resp.status == 200, await resp.text()

    async def twilio_says(
        self, fixture: str, path: str = "/webhooks/twilio", **changes: str
    ) -> None:
        assert self.client is not None
        params = fixture_params(fixture, **changes)
        body, headers = signed_webhook(AUTH_TOKEN, PUBLIC_URL + path, params)
        resp = await self.client.post(path, data=body, headers=headers)
        assert resp.status in (200, 204), await resp.text()

    async def sms_says(self, text: str) -> None:
        sid = f"SM{self.next_id():032d}"
        await self.twilio_says("01_inbound_sms", Body=text, MessageSid=sid, SmsSid=sid, From=PHONE)

    async def whatsapp_says(self, text: str) -> None:
        sid = f"SM{self.next_id():032d}"
        await self.twilio_says(
            "03_inbound_whatsapp_text", Body=text, MessageSid=sid, From=f"whatsapp:{PHONE}"
        )

    # ---------------------------------------------------------------- agents
    async def card_ts(self, n: int = 1) -> str:
        cards = await until(lambda: len(self.slack.cards()) >= n and self.slack.cards())
        ts = [c for c in self.slack.calls if c.method == "chat.postMessage" and c.ok]
        card_bodies = cards[n - 1]
        for call in ts:
            if call.body is card_bodies:
                return str(call.answer["ts"])
        raise AssertionError("card not found")

    async def press(self, value: str, user: str, name: str, card_ts: str) -> int:
        assert self.client is not None
        body = button_press(
            value, user=user, name=name, card_ts=card_ts, action_ts=f"{time.time():.6f}"
        )
        resp = await self.client.post("/webhooks/slack", data=body, headers=signed(body, form=True))
        return resp.status

    async def agent_says(
        self,
        text: str,
        user: str,
        card_ts: str,
        *,
        event_id: str | None = None,
        retry: int | None = None,
        ts: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> str:
        assert self.client is not None
        ts = ts or f"{time.time():.6f}"
        body = thread_reply(
            text,
            user=user,
            thread_ts=card_ts,
            ts=ts,
            event_id=event_id or f"Ev{self.next_id()}",
            files=files,
        )
        resp = await self.client.post(
            "/webhooks/slack", data=body, headers=signed(body, retry=retry)
        )
        assert resp.status == 200
        return ts


@pytest.fixture
async def desk() -> AsyncIterator[Desk]:
    slack = SlackWorkspace(token=TOKEN)
    telegram = FakeTelegram()
    twilio = FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
    slack_runner = await start_workspace(slack)
    telegram_runner = await start_fake_telegram(telegram)
    twilio_runner, twilio_url = await start_fake_twilio(twilio)
    yield Desk(slack, telegram, twilio, [slack.base_url, telegram.base_url, twilio_url])
    for runner in (slack_runner, telegram_runner, twilio_runner):
        await runner.cleanup()


OpenDesk = Callable[..., Awaitable[Http]]
