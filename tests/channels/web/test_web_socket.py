"""The widget's WebSocket against a real gateway and Redis: handshake, identity, the durable
path (ack once queued, resend is a duplicate), replay without duplicates, limits, and delivery
from another gateway process."""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from channels.web import WebChannel, user_hash
from common.messages import ConversationRef, CustomerRef, CustomerReply
from frontdesk.app import create_app, enabled_channels
from gateway.http import GATEWAY
from gateway.settings import BusinessHoursSettings
from tests.channels.web.support import (
    IDENTITY_SECRET,
    PUBLIC_URL,
    WebDialog,
    Widget,
    web_settings,
)
from tests.support.redis_server import RedisServer
from tests.support.slack_agents import SECRET, TOKEN, SlackWorkspace, start_workspace
from tests.support.waiting import drained, until

Client = Any
Http = TestClient[web.Request, web.Application]


@pytest.fixture
async def gateway_client(aiohttp_client: Client, redis_url: str) -> Http:
    app = create_app(web_settings(redis_url), dialog=WebDialog())
    client: Http = await aiohttp_client(app)
    return client


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def socket_url(client: Http) -> str:
    return str(client.make_url("/web/socket"))


def web_channel(client: Http) -> WebChannel:
    channel = client.app[GATEWAY].channels["web"]
    assert isinstance(channel, WebChannel)
    return channel


async def test_a_message_is_acknowledged_once_queued_and_answered_live(
    gateway_client: Http, http: aiohttp.ClientSession
) -> None:
    widget = Widget(http, socket_url(gateway_client))
    welcome = await widget.open()
    assert welcome["type"] == "welcome" and welcome["token"].startswith("v1.")
    assert (await widget.say("hello"))["status"] == "queued"
    reply = await widget.wait_text("echo: hello")
    assert reply["from"] == "bot"
    assert widget.texts() == ["customer: hello", "bot: echo: hello"]
    assert any(f["type"] == "typing" for f in widget.frames)
    await widget.close()


async def test_buttons_arrive_and_a_press_is_a_button_payload(
    gateway_client: Http, http: aiohttp.ClientSession
) -> None:
    widget = Widget(http, socket_url(gateway_client))
    await widget.open()
    await widget.say("buttons")
    offer = await widget.wait_text("Pick one")
    assert offer["buttons"] == [
        {"title": "Yes", "payload": "/yes"},
        {"title": "No", "payload": "/no"},
    ]
    await widget.say("Yes", payload="/yes")
    await widget.wait_text("echo: /yes")
    await widget.close()


async def test_a_resend_after_reconnect_is_a_duplicate_never_a_second_turn(
    gateway_client: Http, http: aiohttp.ClientSession
) -> None:
    widget = Widget(http, socket_url(gateway_client))
    await widget.open()
    client_id = await widget.send("only once")
    await widget.wait_text("echo: only once")
    await widget.close()
    last = widget.entries()[-1]["id"]
    # The widget reconnects with its token, asks for what it has not seen, resends.
    again = Widget(http, socket_url(gateway_client))
    await again.open(token=widget.token, after=last)
    ack = await again.say("only once", client_id=client_id)
    assert ack["status"] == "duplicate"
    await drained(gateway_client)
    await again.say("next")
    await again.wait_text("echo: next")
    assert again.texts() == ["customer: next", "bot: echo: next"]
    await again.close()


async def test_history_replays_in_order_once_for_a_reload_and_a_second_tab(
    gateway_client: Http, http: aiohttp.ClientSession
) -> None:
    first = Widget(http, socket_url(gateway_client))
    await first.open()
    for text in ("one", "two", "three"):
        await first.say(text)
        await first.wait_text(f"echo: {text}")
    history = first.texts()
    # A reload (no cursor) and a second tab both see the whole conversation once.
    tab = Widget(http, socket_url(gateway_client))
    await tab.open(token=first.token)
    await tab.wait(lambda f: f["type"] == "synced")
    assert tab.texts() == history
    # What one tab says, the other sees, live.
    await tab.say("from the second tab")
    await first.wait_text("echo: from the second tab")
    assert first.texts()[-2:] == ["customer: from the second tab", "bot: echo: from the second tab"]
    ids = [e["id"] for e in first.entries()]
    assert len(ids) == len(set(ids))
    await first.close()
    await tab.close()


async def test_a_forged_or_missing_token_starts_a_new_visitor(
    gateway_client: Http, http: aiohttp.ClientSession
) -> None:
    widget = Widget(http, socket_url(gateway_client))
    welcome = await widget.open()
    await widget.say("secret stuff")
    await widget.wait_text("echo: secret stuff")
    forged = welcome["token"][:-4] + "AAAA"
    intruder = Widget(http, socket_url(gateway_client))
    other = await intruder.open(token=forged)
    assert other["conversation"] != welcome["conversation"]
    await intruder.wait(lambda f: f["type"] == "synced")
    assert intruder.entries() == []
    await widget.close()
    await intruder.close()


async def test_identity_verification_joins_a_users_sessions_and_refuses_a_bad_hash(
    gateway_client: Http, http: aiohttp.ClientSession
) -> None:
    good = {"user_id": "user-42", "user_hash": user_hash(IDENTITY_SECRET, "user-42")}
    laptop = Widget(http, socket_url(gateway_client))
    welcome = await laptop.open(**good, user_name="Dana")
    await laptop.say("from the laptop")
    await laptop.wait_text("echo: from the laptop")
    phone = Widget(http, socket_url(gateway_client))
    assert (await phone.open(**good))["conversation"] == welcome["conversation"]
    await phone.wait_text("echo: from the laptop")
    forged = Widget(http, socket_url(gateway_client))
    refused = await forged.open(user_id="user-42", user_hash="0" * 64)
    assert refused["code"] == "identity_refused"
    await forged.closed.wait()
    assert forged.ws is not None and forged.ws.close_code == 4003
    assert forged.entries() == []
    for widget in (laptop, phone):
        await widget.close()


@pytest.mark.parametrize("origin", ["https://evil.example.net", None])
async def test_a_socket_from_an_origin_not_allowed_is_refused(
    gateway_client: Http, http: aiohttp.ClientSession, origin: str | None
) -> None:
    headers = {"Origin": origin} if origin else {}
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(socket_url(gateway_client), headers=headers)
    assert refused.value.status == 403
    assert web_channel(gateway_client).stats["origin_refused"] == 1


async def test_the_gateways_own_page_and_allowed_sites_may_connect(
    gateway_client: Http, http: aiohttp.ClientSession
) -> None:
    for origin in (PUBLIC_URL, "https://shop.example.com"):
        widget = Widget(http, socket_url(gateway_client), origin=origin)
        assert (await widget.open())["type"] == "welcome"
        await widget.close()


async def test_too_long_and_too_many_messages_are_refused_without_a_turn(
    aiohttp_client: Client, redis_url: str, http: aiohttp.ClientSession
) -> None:
    settings = web_settings(redis_url, max_message_chars=20, messages_per_minute=3)
    client: Http = await aiohttp_client(create_app(settings, dialog=WebDialog()))
    widget = Widget(http, socket_url(client))
    await widget.open()
    assert (await widget.say("x" * 21))["code"] == "too_long"
    outcomes = [(await widget.say(f"m{n}")).get("status", "refused") for n in range(4)]
    assert outcomes == ["queued", "queued", "queued", "refused"]
    await drained(client)
    assert [t for t in widget.texts() if t.startswith("customer")] == [
        "customer: m0",
        "customer: m1",
        "customer: m2",
    ]
    await widget.close()


async def test_new_visitors_per_ip_are_limited_and_returning_ones_are_not(
    aiohttp_client: Client, redis_url: str, http: aiohttp.ClientSession
) -> None:
    settings = web_settings(redis_url, ip_conversations_per_hour=2)
    client: Http = await aiohttp_client(create_app(settings, dialog=WebDialog()))
    first = Widget(http, socket_url(client))
    await first.open()
    assert (await Widget(http, socket_url(client)).open())["type"] == "welcome"
    third = Widget(http, socket_url(client))
    refused = await third.open()
    assert refused["code"] == "rate_limited"
    await third.closed.wait()
    assert third.ws is not None and third.ws.close_code == 4029
    back = Widget(http, socket_url(client))  # a returning visitor keeps their conversation
    assert (await back.open(token=first.token))["type"] == "welcome"
    await first.close()
    await back.close()


async def test_malformed_frames_get_an_error_and_the_socket_stays_usable(
    gateway_client: Http, http: aiohttp.ClientSession
) -> None:
    widget = Widget(http, socket_url(gateway_client))
    await widget.open()
    assert widget.ws is not None
    for raw in ("not json", "[]", '{"type": "message"}', '{"type": "message", "client_id": 5}'):
        await widget.ws.send_str(raw)
    await widget.wait(lambda f: f["type"] == "error")
    await widget.say("still here")
    await widget.wait_text("echo: still here")
    await widget.close()


async def test_a_reply_sent_by_another_gateway_process_reaches_the_socket(
    aiohttp_client: Client, redis_url: str, http: aiohttp.ClientSession
) -> None:
    """Two processes share Redis: the socket is held by A; B's outbox sends the reply."""
    settings = web_settings(redis_url)
    holder: Http = await aiohttp_client(create_app(settings, dialog=WebDialog(), workers=False))
    widget = Widget(http, socket_url(holder))
    welcome = await widget.open()
    await widget.wait(lambda f: f["type"] == "synced")
    sender = enabled_channels(settings)["web"]
    await sender.start(lambda event: asyncio.sleep(0))
    conversation = welcome["conversation"]
    message = CustomerReply(
        key="turn-1#0",
        conversation=ConversationRef(channel="web", chat_id=conversation),
        customer=CustomerRef(channel="web", user_id=conversation),
        text="from process B",
    )
    await sender.send(message)
    await sender.send(message)  # a retried send: shown once
    await widget.wait_text("from process B")
    await widget.say("ping")  # a later entry proves nothing else arrived in between
    await widget.wait(lambda f: f["type"] == "entry" and f["text"] == "ping")
    assert widget.texts() == ["bot: from process B", "customer: ping"]
    await sender.close()
    await widget.close()


async def test_the_page_and_the_script_are_served_with_their_headers(
    gateway_client: Http,
) -> None:
    page = await gateway_client.get("/")
    assert page.status == 200
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://shop.example.com" in csp
    assert "script-src 'self'" in csp
    assert '<script src="/widget.js" data-mode="page">' in await page.text()
    script = await gateway_client.get("/widget.js", headers={"Origin": "https://shop.example.com"})
    body = await script.text()
    assert script.headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
    assert '"socket": "/web/socket"' in body and "/*FRONTDESK_CONFIG*/" not in body
    assert len(body.encode()) < 40_000
    evil = await gateway_client.get("/widget.js", headers={"Origin": "https://evil.example.net"})
    assert "Access-Control-Allow-Origin" not in evil.headers
    assert (await gateway_client.get("/widget.css")).status == 200


async def test_a_handoff_outside_business_hours_tells_the_visitor(
    aiohttp_client: Client, redis_url: str, http: aiohttp.ClientSession
) -> None:
    workspace = SlackWorkspace(token=TOKEN)
    runner = await start_workspace(workspace)
    slack = {"bot_token": TOKEN, "signing_secret": SECRET, "api_base_url": workspace.base_url}
    settings = web_settings(redis_url, slack=slack)
    today = datetime.datetime.now(datetime.UTC).weekday()
    other_day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[(today + 3) % 7]
    hours = {"weekly": {other_day: ["09:00-10:00"]}}
    handoff = settings.handoff.model_copy(
        update={"business_hours": BusinessHoursSettings.model_validate(hours)}
    )
    settings = settings.model_copy(update={"handoff": handoff})
    client: Http = await aiohttp_client(create_app(settings, dialog=WebDialog()))
    widget = Widget(http, socket_url(client))
    await widget.open()
    await widget.say("agent")
    closed = await widget.wait(lambda f: f["type"] == "entry" and "closed" in f["text"])
    assert closed["from"] == "bot"
    await until(workspace.cards)  # the agents still get the card
    await widget.close()
    await runner.cleanup()


async def test_a_redis_outage_refuses_then_the_resend_is_answered_live(
    aiohttp_client: Client, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    redis = RedisServer(tmp_path / "data", durable=True)
    redis.directory.mkdir()
    redis.start()
    try:
        client: Http = await aiohttp_client(create_app(web_settings(redis.url), dialog=WebDialog()))
        widget = Widget(http, socket_url(client))
        await widget.open()
        await widget.say("before")
        await widget.wait_text("echo: before")

        redis.stop()
        client_id = uuid.uuid4().hex
        await widget.send("during", client_id=client_id)
        refused = await widget.wait(lambda f: f.get("client_id") == client_id)
        assert (refused["type"], refused["code"]) == ("error", "unavailable")

        redis.start()
        await until_ready(client)
        # The widget sends it again (same id): queued now, answered on the same socket.
        await widget.send("during", client_id=client_id)
        ack = await widget.wait(lambda f: f["type"] == "ack" and f["client_id"] == client_id)
        assert ack["status"] == "queued"
        await widget.wait_text("echo: during")
        assert widget.texts() == [
            "customer: before",
            "bot: echo: before",
            "customer: during",
            "bot: echo: during",
        ]
        await widget.close()
    finally:
        redis.stop()


async def until_ready(client: Http, timeout: float = 15.0) -> None:
    async def ready() -> bool:
        return (await client.get("/readyz")).status == 200

    await until(ready, timeout, "ready again")
