"""Twilio webhooks: signature checks and parsing of every Twilio fixture (pure, no network)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from channels.base import WebhookRejected, WebhookRequest
from channels.settings import TwilioSettings
from channels.twilio import EMPTY_TWIML, TwilioChannel
from common.messages import Attachment, CustomerMessage, DeliveryStatus, InboundEvent, Location
from tests.support.fake_twilio import PAYLOADS, fixture_params, signed_webhook

SIGNED = json.loads((PAYLOADS / "twilio_signed_fixtures.json").read_text())
AUTH_TOKEN = SIGNED[0]["auth_token"]
PUBLIC_URL = "https://gateway.example.com"
CUSTOMER = "+15555550123"


def channel(public_url: str = PUBLIC_URL, token: str = AUTH_TOKEN) -> TwilioChannel:
    settings = TwilioSettings(
        account_sid="AC" + "0" * 32, auth_token=token, sms_number="+15555550100"
    )
    return TwilioChannel(settings, public_url=public_url)


def request(
    path: str,
    body: bytes,
    headers: dict[str, str],
    query: dict[str, str] | None = None,
) -> WebhookRequest:
    return WebhookRequest(
        method="POST",
        path=path,
        headers={k.lower(): v for k, v in headers.items()},
        query=query or {},
        body=body,
    )


def parse(
    name: str, path: str = "/webhooks/twilio", /, **changes: str | None
) -> list[InboundEvent]:
    body = urlencode(fixture_params(name, **changes)).encode()
    return channel().parse(request(path, body, {}))


def one_message(name: str, **changes: str | None) -> CustomerMessage:
    [event] = parse(name, **changes)
    assert isinstance(event, CustomerMessage)
    return event


def one_status(name: str, **changes: str | None) -> DeliveryStatus:
    [event] = parse(name, "/webhooks/twilio/status", **changes)
    assert isinstance(event, DeliveryStatus)
    return event


# ------------------------------------------------------------------------- verification


@pytest.mark.parametrize("signed", SIGNED, ids=[s["fixture"] for s in SIGNED])
def test_every_fixture_signed_by_twilio_is_accepted(signed: dict[str, Any]) -> None:
    body = (PAYLOADS / signed["fixture"].removeprefix("twilio/")).read_bytes().strip()
    path = urlsplit(signed["url"]).path
    channel().verify(request(path, body, signed["headers"]))


def test_twilio_test_vector_with_a_query_string() -> None:
    vector = json.loads((PAYLOADS / "twilio_signing_test_vector.json").read_text())
    url = urlsplit(vector["url"])
    headers = {"X-Twilio-Signature": vector["expected_signature"]}
    body = urlencode(vector["params"]).encode()
    query = dict(pair.split("=") for pair in url.query.split("&"))
    adapter = channel(public_url=f"{url.scheme}://{url.netloc}", token=vector["auth_token"])
    adapter.verify(request(url.path, body, headers, query))
    with pytest.raises(WebhookRejected):  # the query string is part of what is signed
        adapter.verify(request(url.path, body, headers))


def test_missing_signature_is_401() -> None:
    body = (PAYLOADS / "01_inbound_sms.form.txt").read_bytes().strip()
    with pytest.raises(WebhookRejected) as rejected:
        channel().verify(request("/webhooks/twilio/inbound", body, {}))
    assert rejected.value.status == 401


@pytest.mark.parametrize(
    "tamper",
    ["signature", "body", "token", "path", "not-utf8"],
)
def test_bad_signatures_are_403(tamper: str) -> None:
    signed = SIGNED[0]
    body = (PAYLOADS / "01_inbound_sms.form.txt").read_bytes().strip()
    headers = dict(signed["headers"])
    path, token = "/webhooks/twilio/inbound", AUTH_TOKEN
    if tamper == "signature":
        headers["X-Twilio-Signature"] = "sCB9SDphC48iuqiZcq8dK6l62nF="
    elif tamper == "body":
        body = body.replace(b"balance", b"password")
    elif tamper == "token":
        token = "another_auth_token"
    elif tamper == "path":
        path = "/webhooks/twilio/status"
    else:
        body += b"&x=\xff"
    with pytest.raises(WebhookRejected) as rejected:
        channel(token=token).verify(request(path, body, headers))
    assert rejected.value.status == 403


def test_behind_a_tls_proxy_the_public_url_is_what_is_signed() -> None:
    # The request reaches us as http://127.0.0.1:8080/webhooks/twilio; Twilio called (and
    # signed) https://example.com/webhooks/twilio.
    params = fixture_params("01_inbound_sms")
    adapter = channel(public_url="https://example.com/")
    body, headers = signed_webhook(AUTH_TOKEN, "https://example.com/webhooks/twilio", params)
    adapter.verify(request("/webhooks/twilio", body, headers))
    body, headers = signed_webhook(AUTH_TOKEN, "http://127.0.0.1:8080/webhooks/twilio", params)
    with pytest.raises(WebhookRejected) as rejected:
        adapter.verify(request("/webhooks/twilio", body, headers))
    assert rejected.value.status == 403


# ------------------------------------------------------------------------- inbound messages


def test_sms() -> None:
    event = one_message("01_inbound_sms")
    assert event.event_id == "SM11111111111111111111111111111111"
    assert (event.conversation.channel, event.conversation.chat_id) == ("sms", CUSTOMER)
    assert (event.customer.channel, event.customer.user_id) == ("sms", CUSTOMER)
    assert event.customer.phone == CUSTOMER and event.customer.display_name is None
    assert event.text == "What is my account balance?"
    assert event.attachments == () and event.control is None
    assert event.session_key == f"tel:{CUSTOMER}"


def test_mms_with_two_images() -> None:
    event = one_message("02_inbound_mms_two_images")
    assert event.event_id == "MM22222222222222222222222222222222"
    assert event.text == "Here is the receipt"
    media = "https://api.twilio.com/2010-04-01/Accounts/ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX/Messages/MM22222222222222222222222222222222/Media/"
    assert event.attachments == (
        Attachment(
            kind="image", url=media + "ME33333333333333333333333333333333", mime_type="image/jpeg"
        ),
        Attachment(
            kind="image", url=media + "ME44444444444444444444444444444444", mime_type="image/png"
        ),
    )


def test_whatsapp_text() -> None:
    event = one_message("03_inbound_whatsapp_text")
    assert event.event_id == "SM55555555555555555555555555555555"
    assert (event.conversation.channel, event.conversation.chat_id) == ("whatsapp", CUSTOMER)
    assert event.customer.user_id == CUSTOMER and event.customer.phone == CUSTOMER
    assert event.customer.display_name == "Test User"
    assert event.text == "Hi, I need help with my order"
    assert event.session_key == f"tel:{CUSTOMER}"  # the same customer as on SMS


def test_whatsapp_image() -> None:
    event = one_message("03b_inbound_whatsapp_image")
    assert event.conversation.channel == "whatsapp" and event.text == ""
    [image] = event.attachments
    assert image.kind == "image" and image.mime_type == "image/jpeg"
    assert image.url.endswith("/Media/ME77777777777777777777777777777777")


def test_other_media_kinds() -> None:
    event = one_message(
        "02_inbound_mms_two_images",
        MediaContentType0="audio/ogg",
        MediaContentType1="application/pdf",
    )
    assert [a.kind for a in event.attachments] == ["audio", "file"]


def test_whatsapp_location_and_quick_reply_button() -> None:
    located = one_message(
        "03_inbound_whatsapp_text",
        Body="",
        MessageType="location",
        Latitude="51.5072",
        Longitude="-0.1276",
        Label="Head office",
        Address="1 Main St",
    )
    assert located.location == Location(
        latitude=51.5072, longitude=-0.1276, name="Head office", address="1 Main St"
    )
    pressed = one_message(
        "03_inbound_whatsapp_text",
        Body="Yes, cancel it",
        MessageType="button",
        ButtonText="Yes, cancel it",
        ButtonPayload="cancel_order",
    )
    assert pressed.button_payload == "cancel_order" and pressed.text == "Yes, cancel it"


@pytest.mark.parametrize(
    ("body", "control"),
    [
        ("STOP", "opt_out"),
        ("stop", "opt_out"),
        ("  Stop. ", "opt_out"),
        ("STOPALL", "opt_out"),
        ("unsubscribe", "opt_out"),
        ("Cancel", "opt_out"),
        ("END", "opt_out"),
        ("quit", "opt_out"),
        ("START", "opt_in"),
        ("yes", "opt_in"),
        ("UNSTOP", "opt_in"),
        ("help", "help"),
        ("INFO", "help"),
        ("stop it please", None),
        ("Please help me", None),
        ("stopped", None),
    ],
)
def test_sms_keywords(body: str, control: str | None) -> None:
    assert one_message("01_inbound_sms", Body=body).control == control


def test_twilio_opt_out_type_is_honoured() -> None:
    # Advanced Opt-Out: the Messaging Service's own keyword, reported by Twilio.
    event = one_message("01_inbound_sms", Body="arret", OptOutType="STOP")
    assert event.control == "opt_out"
    assert one_message("01_inbound_sms", Body="go", OptOutType="START").control == "opt_in"


def test_stop_on_whatsapp_is_text() -> None:
    assert one_message("03_inbound_whatsapp_text", Body="STOP").control is None


@pytest.mark.parametrize("missing", ["MessageSid", "From"])
def test_missing_message_sid_or_from_is_400(missing: str) -> None:
    with pytest.raises(WebhookRejected) as rejected:
        parse("01_inbound_sms", "/webhooks/twilio", **{missing: None})
    assert rejected.value.status == 400


def test_malformed_media_count_is_400() -> None:
    with pytest.raises(WebhookRejected) as rejected:
        parse("01_inbound_sms", NumMedia="two")
    assert rejected.value.status == 400


def test_channels_we_do_not_serve_and_empty_messages_are_dropped() -> None:
    assert parse("01_inbound_sms", From="messenger:1234567890") == []
    assert parse("03_inbound_whatsapp_text", Body="", MessageType="unsupported") == []


def test_short_code_sender_is_kept_as_is() -> None:
    event = one_message("01_inbound_sms", From="72345")
    assert event.conversation.chat_id == "72345" and event.customer.phone is None


# ------------------------------------------------------------------------- status callbacks


def test_delivered() -> None:
    event = one_status("04_status_delivered")
    assert event.event_id == "SM88888888888888888888888888888888:delivered"
    assert event.platform_message_id == "SM88888888888888888888888888888888"
    assert event.status == "delivered" and event.error is None
    assert (event.conversation.channel, event.conversation.chat_id) == ("sms", CUSTOMER)
    assert event.customer.phone == CUSTOMER
    assert event.session_key == f"tel:{CUSTOMER}"


def test_failed_and_undelivered_carry_the_error() -> None:
    failed = one_status("05_status_failed")
    assert failed.event_id == "SM88888888888888888888888888888888:failed"
    assert (failed.status, failed.error) == ("failed", "30008 unknown error")
    undelivered = one_status("05b_status_undelivered")
    assert undelivered.status == "undelivered"
    assert undelivered.error == "30003 unreachable destination handset"
    assert one_status("05_status_failed", ErrorCode="63016").error == (
        "63016 outside the WhatsApp 24-hour window (send a template)"
    )
    assert one_status("05_status_failed", ErrorCode="12345").error == "12345"


def test_whatsapp_read() -> None:
    event = one_status("06_status_whatsapp_read")
    assert event.event_id == "SM99999999999999999999999999999999:read"
    assert event.status == "read"
    assert (event.conversation.channel, event.customer.user_id) == ("whatsapp", CUSTOMER)


@pytest.mark.parametrize("status", ["queued", "sending", "sent", "accepted", "scheduled"])
def test_intermediate_states_are_dropped(status: str) -> None:
    path = "/webhooks/twilio/status"
    assert parse("04_status_delivered", path, MessageStatus=status, SmsStatus=status) == []


@pytest.mark.parametrize("missing", ["MessageSid", "To"])
def test_status_without_sid_or_recipient_is_400(missing: str) -> None:
    with pytest.raises(WebhookRejected) as rejected:
        parse("04_status_delivered", "/webhooks/twilio/status", **{missing: None})
    assert rejected.value.status == 400


# ------------------------------------------------------------------------- acknowledgement


def test_inbound_gets_empty_twiml_and_status_gets_no_content() -> None:
    adapter = channel()
    inbound = adapter.acknowledge(request("/webhooks/twilio", b"", {}), [])
    assert (inbound.status, inbound.content_type) == (200, "text/xml")
    assert inbound.body == EMPTY_TWIML
    assert adapter.acknowledge(request("/webhooks/twilio/status", b"", {}), []).status == 204
