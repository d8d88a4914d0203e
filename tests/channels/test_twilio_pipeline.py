"""End to end through the Twilio adapter, against a real Redis and a fake Twilio API: a signed
webhook in, the Messages API call out; STOP/START; status callbacks in the transcript; SMS and
WhatsApp from one number as one customer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

from channels.twilio import EMPTY_TWIML, TwilioChannel
from frontdesk.app import create_app
from frontdesk.config import Settings
from gateway.http import GATEWAY
from gateway.sessions import TranscriptEntry, decode_entry, decode_session
from tests.support.fake_twilio import (
    FakeTwilio,
    fixture_params,
    signed_webhook,
    start_fake_twilio,
    twilio_error,
)
from tests.support.waiting import until

Client = Any  # the aiohttp_client fixture's callable
Http = TestClient[web.Request, web.Application]

ACCOUNT_SID = "AC" + "3" * 32
AUTH_TOKEN = "e2e-auth-token"
PUBLIC_URL = "https://example.com"  # behind a TLS proxy: the test client is http://127.0.0.1
SMS_NUMBER = "+15555550100"
WHATSAPP_NUMBER = "+14155238886"
CUSTOMER = "+15555550123"
SESSION = f"tel:{CUSTOMER}"


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeTwilio, str]]:
    twilio = FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
    runner, url = await start_fake_twilio(twilio)
    yield twilio, url
    await runner.cleanup()


@pytest.fixture
async def gateway(
    aiohttp_client: Client, redis_url: str, fake: tuple[FakeTwilio, str]
) -> tuple[Http, web.Application]:
    settings = Settings.model_validate(
        {
            "server": {"public_url": PUBLIC_URL},
            "store": {"url": redis_url},
            "workers": {"lease": 2, "reclaim_idle": 2},
            "outbox": {"base_delay": 0.05, "max_delay": 0.2, "max_attempts": 3},
            "channels": {
                "twilio": {
                    "account_sid": ACCOUNT_SID,
                    "auth_token": AUTH_TOKEN,
                    "sms_number": SMS_NUMBER,
                    "whatsapp_number": WHATSAPP_NUMBER,
                    "api_base_url": fake[1],
                }
            },
        }
    )
    adapter = TwilioChannel(settings.channels.twilio, public_url=settings.server.public_url)
    app = create_app(settings, channels={"sms": adapter, "whatsapp": adapter})
    return await aiohttp_client(app), app


async def post(
    client: Http, fixture: str, path: str = "/webhooks/twilio", **changes: str | None
) -> ClientResponse:
    params = fixture_params(fixture, **changes)
    body, headers = signed_webhook(AUTH_TOKEN, PUBLIC_URL + path, params)
    return await client.post(path, data=body, headers=headers)


async def transcript(app: web.Application, key: str = SESSION) -> list[TranscriptEntry]:
    return [decode_entry(e) for e in await app[GATEWAY].store.transcript(key)]


async def test_signed_sms_gets_empty_twiml_and_a_reply_through_the_api(
    gateway: tuple[Http, web.Application], fake: tuple[FakeTwilio, str]
) -> None:
    client, _ = gateway
    twilio, _ = fake
    resp = await post(client, "01_inbound_sms")
    assert resp.status == 200
    assert resp.content_type == "text/xml"
    assert await resp.read() == EMPTY_TWIML
    [reply] = await twilio.wait_for(1)
    assert reply.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert reply.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert reply.fields == {
        "To": CUSTOMER,
        "From": SMS_NUMBER,
        "Body": "echo: What is my account balance?",
        "StatusCallback": "https://example.com/webhooks/twilio/status",
    }


async def test_same_webhook_twice_gives_one_reply(
    gateway: tuple[Http, web.Application], fake: tuple[FakeTwilio, str]
) -> None:
    client, _ = gateway
    twilio, _ = fake
    assert (await post(client, "01_inbound_sms")).status == 200
    assert (await post(client, "01_inbound_sms")).status == 200  # Twilio's retry
    # A later message of the same customer is answered after the first: once its reply is
    # out, every earlier turn is done.
    assert (
        await post(client, "01_inbound_sms", MessageSid="SM" + "b" * 32, Body="next")
    ).status == 200
    await twilio.wait_for(2)
    assert [r.field("Body") for r in twilio.requests] == [
        "echo: What is my account balance?",
        "echo: next",
    ]
    metrics = await (await client.get("/metrics")).text()
    assert 'frontdesk_events_in_total{channel="sms",outcome="duplicate"} 1.0' in metrics


async def test_whatsapp_message_gets_a_whatsapp_reply(
    gateway: tuple[Http, web.Application], fake: tuple[FakeTwilio, str]
) -> None:
    client, _ = gateway
    twilio, _ = fake
    assert (await post(client, "03_inbound_whatsapp_text")).status == 200
    [reply] = await twilio.wait_for(1)
    assert reply.field("To") == f"whatsapp:{CUSTOMER}"
    assert reply.field("From") == f"whatsapp:{WHATSAPP_NUMBER}"
    assert reply.field("Body") == "echo: Hi, I need help with my order"


async def test_stop_silences_the_number_until_start(
    gateway: tuple[Http, web.Application], fake: tuple[FakeTwilio, str]
) -> None:
    client, app = gateway
    twilio, _ = fake
    for n, body in enumerate(["STOP", "are you there?", "START", "hello again"]):
        sid = f"SM{n:032d}"
        assert (await post(client, "01_inbound_sms", MessageSid=sid, Body=body)).status == 200
    # Turns of one customer run in order: when "hello again" is answered, the others are done.
    [reply] = await twilio.wait_for(1)
    assert reply.field("Body") == "echo: hello again"
    entries = await transcript(app)
    assert [(e.direction, e.text) for e in entries] == [
        ("in", "STOP"),
        ("in", "are you there?"),
        ("in", "START"),
        ("in", "hello again"),
        ("out", "echo: hello again"),
    ]


async def test_help_gets_the_help_text(
    gateway: tuple[Http, web.Application], fake: tuple[FakeTwilio, str]
) -> None:
    client, _ = gateway
    twilio, _ = fake
    assert (await post(client, "01_inbound_sms", Body="help")).status == 200
    [reply] = await twilio.wait_for(1)
    assert "Reply STOP to opt out" in (reply.field("Body") or "")


async def test_failed_delivery_is_in_the_transcript(
    gateway: tuple[Http, web.Application],
) -> None:
    client, app = gateway
    status = "/webhooks/twilio/status"
    resp = await post(client, "05_status_failed", status)
    assert resp.status == 204
    assert (await post(client, "05_status_failed", status)).status == 204  # Twilio's retry
    assert (
        await post(client, "04_status_delivered", status, MessageSid="SM" + "9" * 32)
    ).status == 204

    async def both() -> list[TranscriptEntry]:
        found = await transcript(app)
        return found if len(found) >= 2 else []

    # Events of one customer are handled in order: once the last is in, so is the rest.
    entries = await until(both, 20, "both delivery events in the transcript")
    assert [(e.direction, e.text, e.status, e.ref) for e in entries] == [
        (
            "event",
            "delivery failed: 30008 unknown error",
            "failed",
            "SM88888888888888888888888888888888",
        ),
        ("event", "delivery delivered", "delivered", "SM" + "9" * 32),
    ]
    metrics = await (await client.get("/metrics")).text()
    assert 'frontdesk_events_in_total{channel="sms",outcome="duplicate"} 1.0' in metrics


async def test_sms_and_whatsapp_from_one_number_are_one_session(
    gateway: tuple[Http, web.Application], fake: tuple[FakeTwilio, str]
) -> None:
    client, app = gateway
    twilio, _ = fake
    assert (await post(client, "01_inbound_sms")).status == 200
    await twilio.wait_for(1)
    assert (await post(client, "03_inbound_whatsapp_text")).status == 200
    first, second = await twilio.wait_for(2)
    assert (first.field("To"), second.field("To")) == (CUSTOMER, f"whatsapp:{CUSTOMER}")
    stored = await app[GATEWAY].store.load_session(SESSION)
    assert stored is not None
    session = decode_session(stored.data)
    assert session.channels == ("sms", "whatsapp")
    assert session.names == {"whatsapp": "Test User"}
    assert [(e.channel, e.direction) for e in await transcript(app)] == [
        ("sms", "in"),
        ("sms", "out"),
        ("whatsapp", "in"),
        ("whatsapp", "out"),
    ]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"X-Twilio-Signature": "bm90IHRoZSBzaWduYXR1cmU="}, 403)],
    ids=["unsigned", "badly-signed"],
)
async def test_unsigned_or_badly_signed_webhooks_are_refused(
    gateway: tuple[Http, web.Application],
    fake: tuple[FakeTwilio, str],
    headers: dict[str, str],
    status: int,
) -> None:
    client, app = gateway
    twilio, _ = fake
    params = fixture_params("01_inbound_sms")
    body, signed = signed_webhook(AUTH_TOKEN, PUBLIC_URL + "/webhooks/twilio", params)
    signed.pop("X-Twilio-Signature")
    resp = await client.post("/webhooks/twilio", data=body, headers={**signed, **headers})
    assert resp.status == status
    # Signed over the URL the proxy forwarded to, not the public one: refused too.
    local = str(client.make_url("/webhooks/twilio"))
    body, signed = signed_webhook(AUTH_TOKEN, local, params)
    assert (await client.post("/webhooks/twilio", data=body, headers=signed)).status == 403
    assert await app[GATEWAY].store.depth("turns") == 0
    assert twilio.requests == []
    metrics = await (await client.get("/metrics")).text()
    assert 'frontdesk_events_in_total{channel="twilio",outcome="rejected"} 2.0' in metrics


async def test_rate_limited_reply_is_sent_once_after_retry_after(
    gateway: tuple[Http, web.Application], fake: tuple[FakeTwilio, str]
) -> None:
    client, _ = gateway
    twilio, _ = fake
    twilio.script = [twilio_error(429, 20429, "Too Many Requests", {"Retry-After": "1"})]
    assert (await post(client, "01_inbound_sms")).status == 200
    [reply] = await twilio.wait_for(1)
    assert reply.field("Body") == "echo: What is my account balance?"
    assert [r.status for r in twilio.requests] == [429, 201]
