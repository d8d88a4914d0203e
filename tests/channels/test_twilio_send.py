"""Twilio sends: the real SDK (async HTTP client) against a fake Twilio API; rendering of
buttons, long text and media; failure classification; WhatsApp's 24-hour window."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from channels.base import SendError
from channels.settings import TwilioSettings
from channels.twilio import TwilioChannel
from common.messages import Attachment, Button, ConversationRef, CustomerRef, OutboundMessage
from tests.support.fake_twilio import FakeTwilio, start_fake_twilio, twilio_error

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "fake-auth-token"
SMS_NUMBER = "+15555550100"
WHATSAPP_NUMBER = "+14155238886"
CUSTOMER = "+15555550123"
TEMPLATE = "HX" + "a" * 32


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeTwilio, str]]:
    twilio = FakeTwilio(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
    runner, url = await start_fake_twilio(twilio)
    yield twilio, url
    await runner.cleanup()


async def started(base_url: str, **settings: Any) -> TwilioChannel:
    config = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "sms_number": SMS_NUMBER,
        "whatsapp_number": WHATSAPP_NUMBER,
        "api_base_url": base_url,
        **settings,
    }
    adapter = TwilioChannel(TwilioSettings(**config), public_url="https://example.com")

    async def sink(event: object) -> None:
        raise AssertionError("the Twilio adapter pulls no events")

    await adapter.start(sink)
    return adapter


@pytest.fixture
async def adapter(fake: tuple[FakeTwilio, str]) -> AsyncIterator[TwilioChannel]:
    channel = await started(fake[1])
    yield channel
    await channel.close()


def outbound(
    text: str = "hello",
    channel: str = "sms",
    *,
    buttons: tuple[Button, ...] = (),
    attachments: tuple[Attachment, ...] = (),
    window_closes_at: float | None = None,
    key: str = "evt-1#0",
) -> OutboundMessage:
    return OutboundMessage(
        key=key,
        conversation=ConversationRef(channel=channel, chat_id=CUSTOMER),
        customer=CustomerRef(channel=channel, user_id=CUSTOMER, phone=CUSTOMER),
        text=text,
        buttons=buttons,
        attachments=attachments,
        window_closes_at=window_closes_at,
    )


async def test_sms_reply_is_one_messages_create_call(
    fake: tuple[FakeTwilio, str], adapter: TwilioChannel
) -> None:
    twilio, _ = fake
    sid = await adapter.send(outbound("Your balance is $12."))
    [sent] = twilio.requests
    assert sent.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert sent.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.fields == {
        "To": CUSTOMER,
        "From": SMS_NUMBER,
        "Body": "Your balance is $12.",
        "StatusCallback": "https://example.com/webhooks/twilio/status",
    }
    assert sid == sent.sid and sid.startswith("SM")


async def test_whatsapp_reply_uses_whatsapp_addresses(
    fake: tuple[FakeTwilio, str], adapter: TwilioChannel
) -> None:
    twilio, _ = fake
    await adapter.send(outbound("hi", "whatsapp", window_closes_at=time.time() + 3600))
    [sent] = twilio.requests
    assert sent.field("To") == f"whatsapp:{CUSTOMER}"
    assert sent.field("From") == f"whatsapp:{WHATSAPP_NUMBER}"
    assert sent.field("Body") == "hi"


async def test_messaging_service_when_no_number_is_configured(
    fake: tuple[FakeTwilio, str],
) -> None:
    twilio, url = fake
    channel = await started(url, sms_number="", messaging_service_sid="MG" + "2" * 32)
    try:
        await channel.send(outbound("via the service"))
    finally:
        await channel.close()
    [sent] = twilio.requests
    assert sent.field("MessagingServiceSid") == "MG" + "2" * 32
    assert sent.field("From") is None


async def test_no_sender_for_the_channel_is_permanent(fake: tuple[FakeTwilio, str]) -> None:
    twilio, url = fake
    channel = await started(url, whatsapp_number="")
    try:
        with pytest.raises(SendError) as failed:
            await channel.send(outbound("hi", "whatsapp"))
    finally:
        await channel.close()
    assert failed.value.kind == "permanent" and twilio.requests == []


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
async def test_buttons_become_numbered_options(
    fake: tuple[FakeTwilio, str], adapter: TwilioChannel, channel: str
) -> None:
    twilio, _ = fake
    buttons = (
        Button(title="Track my order", payload="track"),
        Button(title="Talk to a person", payload="agent"),
    )
    await adapter.send(outbound("How can I help?", channel, buttons=buttons))
    assert twilio.requests[0].field("Body") == (
        "How can I help?\n1. Track my order\n2. Talk to a person\nReply with a number."
    )


async def test_long_text_is_split_at_1600_on_word_boundaries(
    fake: tuple[FakeTwilio, str], adapter: TwilioChannel
) -> None:
    twilio, _ = fake
    words = [f"word{i}" for i in range(700)]  # about 5,500 characters
    sid = await adapter.send(outbound(" ".join(words)))
    bodies = [r.field("Body") or "" for r in twilio.requests]
    assert len(bodies) == 4
    assert all(len(b) <= 1600 for b in bodies)
    assert " ".join(bodies).split(" ") == words  # no word cut, none lost, in order
    assert sid.split(",") == [r.sid for r in twilio.requests]


async def test_mms_carries_every_image_in_one_message(
    fake: tuple[FakeTwilio, str], adapter: TwilioChannel
) -> None:
    twilio, _ = fake
    images = tuple(Attachment(kind="image", url=f"https://cdn.example.com/{n}.png") for n in "ab")
    await adapter.send(outbound("Your receipts", attachments=images))
    [sent] = twilio.requests
    assert sent.all("MediaUrl") == [
        "https://cdn.example.com/a.png",
        "https://cdn.example.com/b.png",
    ]
    assert sent.field("Body") == "Your receipts"


async def test_whatsapp_sends_one_medium_per_message(
    fake: tuple[FakeTwilio, str], adapter: TwilioChannel
) -> None:
    twilio, _ = fake
    images = tuple(Attachment(kind="image", url=f"https://cdn.example.com/{n}.png") for n in "ab")
    await adapter.send(outbound("Your receipts", "whatsapp", attachments=images))
    first, second = twilio.requests
    assert (first.field("Body"), first.all("MediaUrl")) == (
        "Your receipts",
        ["https://cdn.example.com/a.png"],
    )
    assert (second.field("Body"), second.all("MediaUrl")) == (
        None,
        ["https://cdn.example.com/b.png"],
    )


# ------------------------------------------------------------------------- WhatsApp window


async def test_closed_window_sends_the_template_instead_of_free_text(
    fake: tuple[FakeTwilio, str],
) -> None:
    twilio, url = fake
    channel = await started(url, whatsapp_template_sid=TEMPLATE)
    try:
        await channel.send(outbound("free text", "whatsapp", window_closes_at=time.time() - 1))
    finally:
        await channel.close()
    [sent] = twilio.requests
    assert sent.field("ContentSid") == TEMPLATE
    assert sent.field("Body") is None
    assert sent.field("To") == f"whatsapp:{CUSTOMER}"


async def test_closed_window_without_template_is_a_permanent_failure(
    fake: tuple[FakeTwilio, str], adapter: TwilioChannel
) -> None:
    twilio, _ = fake
    with pytest.raises(SendError) as failed:
        await adapter.send(outbound("free text", "whatsapp", window_closes_at=time.time() - 1))
    assert failed.value.kind == "permanent"
    assert "24-hour window closed" in failed.value.detail
    assert twilio.requests == []


async def test_open_window_sends_free_text(
    fake: tuple[FakeTwilio, str], adapter: TwilioChannel
) -> None:
    twilio, _ = fake
    await adapter.send(outbound("free text", "whatsapp", window_closes_at=time.time() + 60))
    assert twilio.requests[0].field("Body") == "free text"


# ------------------------------------------------------------------------- failures


async def test_rate_limit_carries_retry_after(
    fake: tuple[FakeTwilio, str], adapter: TwilioChannel
) -> None:
    twilio, _ = fake
    twilio.script = [twilio_error(429, 20429, "Too Many Requests", {"Retry-After": "7"})]
    with pytest.raises(SendError) as failed:
        await adapter.send(outbound())
    assert (failed.value.kind, failed.value.retry_after) == ("rate_limited", 7.0)
    assert "20429" in failed.value.detail
    assert len(twilio.requests) == 1  # the SDK did not retry underneath the outbox


async def test_rate_limit_without_retry_after(
    fake: tuple[FakeTwilio, str], adapter: TwilioChannel
) -> None:
    fake[0].script = [twilio_error(429, 20429, "Too Many Requests")]
    with pytest.raises(SendError) as failed:
        await adapter.send(outbound())
    assert (failed.value.kind, failed.value.retry_after) == ("rate_limited", None)


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_transient(
    fake: tuple[FakeTwilio, str], adapter: TwilioChannel, status: int
) -> None:
    twilio, _ = fake
    twilio.script = [twilio_error(status, 20500, "Internal Server Error")]
    with pytest.raises(SendError) as failed:
        await adapter.send(outbound())
    assert failed.value.kind == "transient" and failed.value.retryable
    assert len(twilio.requests) == 1


@pytest.mark.parametrize(
    ("code", "meaning"),
    [
        (21211, "invalid 'To' phone number"),
        (21610, "opted out"),
        (21408, "region is not enabled"),
        (63016, "24-hour window"),
        (21999, "Some new problem"),
    ],
)
async def test_client_errors_are_permanent_and_name_the_reason(
    fake: tuple[FakeTwilio, str], adapter: TwilioChannel, code: int, meaning: str
) -> None:
    fake[0].script = [twilio_error(400, code, "Some new problem")]
    with pytest.raises(SendError) as failed:
        await adapter.send(outbound())
    assert failed.value.kind == "permanent" and not failed.value.retryable
    assert str(code) in failed.value.detail and meaning in failed.value.detail


async def test_wrong_credentials_are_permanent(fake: tuple[FakeTwilio, str]) -> None:
    channel = await started(fake[1], auth_token="wrong")
    try:
        with pytest.raises(SendError) as failed:
            await channel.send(outbound())
    finally:
        await channel.close()
    assert failed.value.kind == "permanent" and "20003" in failed.value.detail


async def test_unreachable_api_is_transient() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    channel = await started(f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(SendError) as failed:
            await channel.send(outbound())
    finally:
        await channel.close()
    assert failed.value.kind == "transient"


async def test_a_retried_multi_part_message_sends_only_the_missing_parts(
    fake: tuple[FakeTwilio, str], adapter: TwilioChannel
) -> None:
    twilio, _ = fake
    message = outbound(" ".join(f"word{i}" for i in range(400)))  # two parts
    # The first part is accepted, the second fails: the outbox will retry the message.
    twilio.script = [None, twilio_error(500, 20500, "Internal Server Error")]
    with pytest.raises(SendError) as failed:
        await adapter.send(message)
    assert failed.value.kind == "transient"
    sid = await adapter.send(message)
    first, failed_second, second = twilio.requests
    assert failed_second.field("Body") == second.field("Body") != first.field("Body")
    assert [r.status for r in twilio.requests] == [201, 500, 201]
    assert sid == f"{first.sid},{second.sid}"
    # Sent in full: a later send of the same message starts again from the first part.
    await adapter.send(message)
    assert twilio.requests[3].field("Body") == first.field("Body")
