"""WhatsApp Cloud API end to end against a real Redis: a signed webhook in, the Graph API call
out to the fake server; re-deliveries, button replies, failed deliveries and shared identity."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from channels.console import ConsoleChannel
from channels.settings import WhatsAppSettings
from channels.whatsapp import WhatsAppCloudChannel, signature_for
from common.messages import ConversationRef, CustomerMessage, CustomerRef, OutboundMessage
from frontdesk.app import create_app
from frontdesk.config import Settings
from gateway.http import GATEWAY
from gateway.sessions import TranscriptEntry, decode_entry, decode_session
from tests.support.fake_whatsapp import (
    APP_SECRET,
    FakeGraph,
    fixture,
    graph_error,
    notification,
    start_graph,
    text_message,
)
from tests.support.waiting import drained, until

Client = Any
TOKEN = "EAAGe2etoken"
PHONE_ID = "1122334455667"
CUSTOMER = "972987654321"  # the fixtures' wa_id


@pytest.fixture
async def graph() -> AsyncIterator[tuple[FakeGraph, str]]:
    fake = FakeGraph(access_token=TOKEN)
    runner, url = await start_graph(fake)
    yield fake, url
    await runner.cleanup()


def settings_for(redis_url: str, graph_url: str) -> Settings:
    return Settings.model_validate(
        {
            "store": {"url": redis_url},
            "workers": {"lease": 2, "reclaim_idle": 2},
            "outbox": {"base_delay": 0.05, "max_delay": 0.2, "max_attempts": 3},
            "channels": {
                "whatsapp": {
                    "access_token": TOKEN,
                    "app_secret": APP_SECRET,
                    "verify_token": "verify-me",
                    "phone_number_id": PHONE_ID,
                    "api_base_url": graph_url,
                }
            },
        }
    )


async def start(
    aiohttp_client: Client, redis_url: str, graph_url: str, **extra: Any
) -> tuple[TestClient[Any, Any], Any]:
    settings = settings_for(redis_url, graph_url)
    whatsapp = WhatsAppCloudChannel.from_settings(settings.channels.whatsapp, timeout=5)
    app = create_app(settings, channels={"whatsapp_cloud": whatsapp, **extra})
    return await aiohttp_client(app), app


async def post(
    client: TestClient[Any, Any], body: bytes, headers: dict[str, str] | None = None
) -> int:
    if headers is None:
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature_for(APP_SECRET, body),
        }
    resp = await client.post("/webhooks/whatsapp", data=body, headers=headers)
    return resp.status


async def transcript(app: Any, key: str, count: int) -> list[TranscriptEntry]:
    store = app[GATEWAY].store

    async def entries() -> list[TranscriptEntry]:
        found = [decode_entry(e) for e in await store.transcript(key)]
        return found if len(found) >= count else []

    return await until(entries, 10, f"{count} transcript entries of {key}")


async def test_signed_text_webhook_gets_a_text_reply(
    aiohttp_client: Client, redis_url: str, graph: tuple[FakeGraph, str]
) -> None:
    fake, url = graph
    client, _ = await start(aiohttp_client, redis_url, url)
    assert await post(client, *fixture("01_message_text.json")) == 200
    [reply] = await fake.wait_for(1)
    assert reply["messaging_product"] == "whatsapp"
    assert (reply["to"], reply["type"]) == (CUSTOMER, "text")
    assert reply["text"]["body"] == "echo: Body Text"
    [call] = fake.calls
    assert call.path == f"/v21.0/{PHONE_ID}/messages"
    assert call.authorization == f"Bearer {TOKEN}"


async def test_the_same_webhook_twice_gets_one_reply(
    aiohttp_client: Client, redis_url: str, graph: tuple[FakeGraph, str]
) -> None:
    fake, url = graph
    client, app = await start(aiohttp_client, redis_url, url)
    body, headers = fixture("01_message_text.json")
    assert [await post(client, body, headers) for _ in range(2)] == [200, 200]
    await fake.wait_for(1)
    await drained(app)
    assert [d["text"]["body"] for d in fake.delivered] == ["echo: Body Text"]


async def test_badly_signed_webhook_is_refused_and_nothing_is_sent(
    aiohttp_client: Client, redis_url: str, graph: tuple[FakeGraph, str]
) -> None:
    fake, url = graph
    client, app = await start(aiohttp_client, redis_url, url)
    body, headers = fixture("01_message_text.json")
    assert await post(client, body, {"Content-Type": "application/json"}) == 401
    assert await post(client, body.replace(b"Body", b"Bodd"), headers) == 403
    await drained(app)
    assert fake.calls == []
    assert await app[GATEWAY].store.depth("turns") == 0


async def test_button_reply_answers_the_payload(
    aiohttp_client: Client, redis_url: str, graph: tuple[FakeGraph, str]
) -> None:
    fake, url = graph
    client, _ = await start(aiohttp_client, redis_url, url)
    assert await post(client, *fixture("06_interactive_button_reply.json")) == 200
    [reply] = await fake.wait_for(1)
    assert reply["text"]["body"] == "echo: callback_data"


async def test_failed_delivery_is_in_the_transcript_and_not_answered(
    aiohttp_client: Client, redis_url: str, graph: tuple[FakeGraph, str]
) -> None:
    fake, url = graph
    client, app = await start(aiohttp_client, redis_url, url)
    assert await post(client, *fixture("05_status_failed.json")) == 200
    [entry] = await transcript(app, f"tel:+{CUSTOMER}", 1)
    assert entry.direction == "event"
    assert entry.text == "delivery failed: (130472) User's number is part of an experiment"
    assert entry.ref == "wamid.xyzxyz"
    await drained(app)
    assert fake.calls == []


async def test_rate_limited_send_is_retried_and_delivered_once(
    aiohttp_client: Client, redis_url: str, graph: tuple[FakeGraph, str]
) -> None:
    fake, url = graph
    fake.script = [(400, graph_error(131056, "Pair rate limit hit"), {})]
    client, app = await start(aiohttp_client, redis_url, url)
    body = notification(messages=[text_message("wamid.slow", "slow down")])
    assert await post(client, body) == 200
    await fake.wait_for(1)
    await drained(app)
    assert [c.status for c in fake.calls] == [400, 200]
    assert [d["text"]["body"] for d in fake.delivered] == ["echo: slow down"]


async def test_whatsapp_and_sms_from_one_number_share_the_session(
    aiohttp_client: Client, redis_url: str, graph: tuple[FakeGraph, str]
) -> None:
    fake, url = graph
    sms_sent: list[OutboundMessage] = []
    sms = ConsoleChannel(sms_sent.append, name="sms")
    client, app = await start(aiohttp_client, redis_url, url, sms=sms)
    number = f"+{CUSTOMER}"
    await app[GATEWAY].ingest.accept(
        CustomerMessage(
            event_id="SM1",
            conversation=ConversationRef(channel="sms", chat_id=number),
            customer=CustomerRef(channel="sms", user_id=number, phone=number, display_name="T"),
            text="by sms",
        )
    )
    await transcript(app, f"tel:{number}", 2)
    assert await post(client, *fixture("01_message_text.json")) == 200
    [reply] = await fake.wait_for(1)
    assert reply["text"]["body"] == "echo: Body Text"
    entries = await transcript(app, f"tel:{number}", 4)
    assert [(e.channel, e.direction) for e in entries] == [
        ("sms", "in"),
        ("sms", "out"),
        ("whatsapp_cloud", "in"),
        ("whatsapp_cloud", "out"),
    ]
    stored = await app[GATEWAY].store.load_session(f"tel:{number}")
    assert stored is not None
    session = decode_session(stored.data)
    assert session.names == {"sms": "T", "whatsapp_cloud": "Test Name"}
    assert session.dialog["turn"] == 2
    assert [m.text for m in sms_sent] == ["echo: by sms"]


def test_settings_section_builds_the_adapter() -> None:
    settings = WhatsAppSettings(
        access_token=TOKEN,
        app_secret=APP_SECRET,
        verify_token="v",
        phone_number_id=PHONE_ID,
        api_base_url="https://graph.example/v21.0/",
    )
    channel = WhatsAppCloudChannel.from_settings(settings)
    assert channel.messages_url == f"https://graph.example/v21.0/{PHONE_ID}/messages"
    assert channel.conversation_channels == ("whatsapp_cloud",)
