"""WhatsApp Cloud API webhooks: Meta's verification handshake, the signature over the raw body,
and every fixture parsed into the events a customer's action should produce."""

from __future__ import annotations

import json
from typing import Any

import pytest

from channels.base import WebhookRejected, WebhookRequest
from channels.whatsapp import WhatsAppCloudChannel, signature_for
from common.messages import Attachment, CustomerMessage, DeliveryStatus, Location
from frontdesk.app import create_app
from frontdesk.config import Settings
from tests.support.fake_whatsapp import APP_SECRET, fixture, notification, text_message

Client = Any
VERIFY_TOKEN = "my-verify-token"
BASE = "https://graph.example.test/v21.0"


def channel() -> WhatsAppCloudChannel:
    return WhatsAppCloudChannel(
        access_token="EAAtoken",
        app_secret=APP_SECRET,
        verify_token=VERIFY_TOKEN,
        phone_number_id="1122334455667",
        api_base_url=BASE,
    )


def post(body: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest(
        method="POST",
        path="/webhooks/whatsapp",
        headers={k.lower(): v for k, v in headers.items()},
        body=body,
    )


def parsed(name: str) -> list[Any]:
    body, headers = fixture(name)
    request = post(body, headers)
    adapter = channel()
    adapter.verify(request)
    return adapter.parse(request)


# --- GET: the subscription handshake, through the gateway's generic handler ---


async def test_verification_handshake_answers_the_challenge(aiohttp_client: Client) -> None:
    client = await aiohttp_client(app())
    resp = await client.get(
        "/webhooks/whatsapp",
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": "1158201444",
        },
    )
    assert resp.status == 200
    assert resp.content_type == "text/plain"
    assert await resp.text() == "1158201444"


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "not-mine", "hub.challenge": "42"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"},
        {"hub.challenge": "42"},
    ],
    ids=["wrong-token", "wrong-mode", "no-token"],
)
async def test_verification_handshake_refuses_anything_else(
    aiohttp_client: Client, query: dict[str, str]
) -> None:
    client = await aiohttp_client(app())
    resp = await client.get("/webhooks/whatsapp", params=query)
    assert resp.status == 403
    assert "42" not in await resp.text()


def app() -> Any:
    settings = Settings.model_validate({"store": {"url": "memory://"}})
    return create_app(settings, channels={"whatsapp_cloud": channel()}, workers=False)


# --- POST: X-Hub-Signature-256 over the raw bytes ---


@pytest.mark.parametrize(
    "name",
    [
        "01_message_text.json",
        "02_message_image.json",
        "03_message_reply_context.json",
        "04_status_delivered.json",
        "05_status_failed.json",
        "06_interactive_button_reply.json",
    ],
)
def test_metas_signatures_of_the_fixtures_are_accepted(name: str) -> None:
    body, headers = fixture(name)
    channel().verify(post(body, headers))
    assert signature_for(APP_SECRET, body) == headers["X-Hub-Signature-256"]


def test_missing_signature_is_401() -> None:
    body, _ = fixture("01_message_text.json")
    with pytest.raises(WebhookRejected) as exc:
        channel().verify(post(body, {"Content-Type": "application/json"}))
    assert exc.value.status == 401


def test_one_changed_byte_or_reserialised_json_is_403() -> None:
    body, headers = fixture("01_message_text.json")
    tampered = body.replace(b"Body Text", b"Body Test")
    reserialised = json.dumps(json.loads(body)).encode()  # same data, other bytes
    for bad in (tampered, reserialised):
        with pytest.raises(WebhookRejected) as exc:
            channel().verify(post(bad, headers))
        assert exc.value.status == 403
    other_secret = {"X-Hub-Signature-256": signature_for("another app", body)}
    with pytest.raises(WebhookRejected) as exc:
        channel().verify(post(body, other_secret))
    assert exc.value.status == 403


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"object": "page", "entry": []}',
        b'{"object": "whatsapp_business_account"}',
    ],
    ids=["not-json", "not-object", "not-whatsapp", "no-entry"],
)
def test_bodies_that_are_not_whatsapp_notifications_are_400(body: bytes) -> None:
    with pytest.raises(WebhookRejected) as exc:
        channel().parse(post(body, {"X-Hub-Signature-256": signature_for(APP_SECRET, body)}))
    assert exc.value.status == 400


# --- parse: every fixture ---


def test_text_message() -> None:
    [event] = parsed("01_message_text.json")
    assert isinstance(event, CustomerMessage)
    assert event.event_id == "wamid.xyzxyz"
    assert event.text == "Body Text"
    assert event.customer.user_id == event.customer.phone == "+972987654321"
    assert event.customer.display_name == "Test Name"
    assert event.conversation.channel == "whatsapp_cloud"
    assert event.conversation.chat_id == "+972987654321"
    assert event.session_key == "tel:+972987654321"


def test_image_is_an_attachment_referring_to_the_graph_media_id() -> None:
    [event] = parsed("02_message_image.json")
    assert isinstance(event, CustomerMessage)
    assert event.attachments == (
        Attachment(kind="image", url=f"{BASE}/65463453", mime_type="image/jpeg"),
    )
    assert event.text == ""


def test_reply_to_a_message_is_read_as_its_text() -> None:
    [event] = parsed("03_message_reply_context.json")
    assert isinstance(event, CustomerMessage)
    assert (event.text, event.button_payload) == ("replied text", None)


def test_delivered_status() -> None:
    [event] = parsed("04_status_delivered.json")
    assert isinstance(event, DeliveryStatus)
    assert event.event_id == "wamid.xyzxyz:delivered"
    assert (event.platform_message_id, event.status, event.error) == (
        "wamid.xyzxyz",
        "delivered",
        None,
    )
    assert event.session_key == "tel:+972987654321"


def test_failed_status_carries_the_error() -> None:
    [event] = parsed("05_status_failed.json")
    assert isinstance(event, DeliveryStatus)
    assert event.status == "failed"
    assert event.error == "(130472) User's number is part of an experiment"


def test_interactive_button_reply_gives_the_payload() -> None:
    [event] = parsed("06_interactive_button_reply.json")
    assert isinstance(event, CustomerMessage)
    assert event.button_payload == "callback_data"
    assert event.text == "title"


# --- parse: the other documented message kinds ---


def test_several_messages_and_statuses_in_one_post_are_several_events() -> None:
    body = notification(
        messages=[text_message("wamid.1", "one"), text_message("wamid.2", "two")],
        statuses=[
            {"id": "wamid.0", "status": "read", "timestamp": "1", "recipient_id": "14155238886"}
        ],
    )
    events = channel().parse(post(body, {}))
    assert [e.event_id for e in events] == ["wamid.1", "wamid.2", "wamid.0:read"]


def test_list_reply_location_document_and_template_button() -> None:
    messages = [
        {
            "from": "14155238886",
            "id": "wamid.list",
            "type": "interactive",
            "interactive": {
                "type": "list_reply",
                "list_reply": {"id": "size_m", "title": "Medium", "description": "M"},
            },
        },
        {
            "from": "14155238886",
            "id": "wamid.loc",
            "type": "location",
            "location": {"latitude": 52.52, "longitude": 13.405, "name": "Office"},
        },
        {
            "from": "14155238886",
            "id": "wamid.doc",
            "type": "document",
            "document": {
                "id": "777",
                "mime_type": "application/pdf",
                "filename": "invoice.pdf",
                "caption": "my invoice",
            },
        },
        {
            "from": "14155238886",
            "id": "wamid.btn",
            "type": "button",
            "button": {"payload": "RESUME", "text": "Continue"},
        },
        {
            "from": "14155238886",
            "id": "wamid.react",
            "type": "reaction",
            "reaction": {"emoji": "👍"},
        },
    ]
    events = channel().parse(post(notification(messages=messages), {}))
    assert all(isinstance(e, CustomerMessage) for e in events)
    listed, located, document, button = events  # the reaction is not answered
    assert isinstance(listed, CustomerMessage) and listed.button_payload == "size_m"
    assert isinstance(located, CustomerMessage)
    assert located.location == Location(latitude=52.52, longitude=13.405, name="Office")
    assert isinstance(document, CustomerMessage)
    assert document.text == "my invoice"
    assert document.attachments == (
        Attachment(kind="file", url=f"{BASE}/777", mime_type="application/pdf", name="invoice.pdf"),
    )
    assert isinstance(button, CustomerMessage)
    assert (button.button_payload, button.text) == ("RESUME", "Continue")
