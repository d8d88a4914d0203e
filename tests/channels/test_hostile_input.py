"""Hostile but correctly signed requests (issue 16): each payload that answered 500 before now
answers a deliberate 4xx, through the real aiohttp app, and nothing of it is queued."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient

from channels.base import WebhookRejected
from frontdesk.app import create_app
from frontdesk.config import Settings
from tests.channels.hostile import HANDOFF_CHANNEL, PAYLOADS, Target, targets

Client = Any  # the aiohttp_client fixture's callable
DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE = int("9" * 400)  # a 400-digit number: float() of it overflows


def fixture(folder: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / folder / name).read_text())
    return data


def form(name: str, **changes: str) -> bytes:
    from tests.support.fake_twilio import fixture_params

    return urlencode(fixture_params(name, **changes)).encode()


def telegram(path: str, value: object, name: str = "01b_text_message_plain.json") -> bytes:
    return json.dumps(_set(fixture("telegram", name), path, value)).encode()


def whatsapp(path: str, value: object, name: str = "01_message_text.json") -> bytes:
    return json.dumps(_set(fixture("whatsapp_cloud", name), path, value)).encode()


def slack(path: str, value: object, name: str = "02_event_message_channel.json") -> bytes:
    data = _set(fixture("slack", name), path, value)
    data.get("event", {})["channel_type"] = "im"  # a direct message: answered by the bot
    return json.dumps(data).encode()


def _set(data: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    """A copy of ``data`` with the value at ``a.b.0.c`` replaced (created if missing)."""
    data = copy.deepcopy(data)
    node: Any = data
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


LOCATION = {"latitude": 48.85, "longitude": 2.35}

# (route, body): signed correctly, malformed inside; each answered 500 before the fix.
MALFORMED: dict[str, tuple[str, bytes]] = {
    "api nested 100,000 deep": ("api", b'{"id": "1", "text": ' + DEEP + b"}"),
    "api lone surrogate": (
        "api",
        b'{"id": "e1", "conversation_id": "c", "user_id": "u", "text": "\\ud800"}',
    ),
    "telegram nested 100,000 deep": ("telegram", DEEP),
    "telegram lone surrogate": ("telegram", telegram("message.text", "\ud800")),
    "telegram photo width as a string": (
        "telegram",
        telegram("message.photo.0.width", "wide", "02_photo_message.json"),
    ),
    "telegram chat.type as a list": ("telegram", telegram("message.chat.type", ["private"])),
    "telegram 400-digit latitude": (
        "telegram",
        telegram("message.location", {"latitude": HUGE, "longitude": 1}),
    ),
    "telegram latitude 1e999": (
        "telegram",
        telegram("message.location", LOCATION).replace(b"48.85", b"1e999"),
    ),
    "telegram latitude NaN": (
        "telegram",
        telegram("message.location", LOCATION).replace(b"48.85", b"NaN"),
    ),
    "telegram latitude Infinity": (
        "telegram",
        telegram("message.location", LOCATION).replace(b"48.85", b"-Infinity"),
    ),
    "telegram latitude 91": (
        "telegram",
        telegram("message.location", {**LOCATION, "latitude": 91}),
    ),
    "slack nested 100,000 deep": (
        "slack_events",
        b'{"type": "event_callback", "x": ' + DEEP + b"}",
    ),
    "slack lone surrogate": ("slack_events", slack("event.text", "\ud800")),
    "slack event.user as an object": ("slack_events", slack("event.user", {"id": "U1"})),
    "slack event.subtype as an object": ("slack_events", slack("event.subtype", {"a": 1})),
    "slack authorizations as a number": ("slack_events", slack("authorizations", 7)),
    "slack authed_users as a number": ("slack_events", slack("authed_users", 7)),
    "slack actions as a number": (
        "slack_forms",
        b"payload="
        + urlencode(
            {"": json.dumps({**fixture("slack", "07_block_actions.payload.json"), "actions": 7})}
        )[1:].encode(),
    ),
    "slack agents authorizations as a number": (
        "slack_agents",
        json.dumps(
            _set(fixture("slack", "03_event_message_thread_reply.json"), "authorizations", 7)
        ).encode(),
    ),
    "slack agents subtype as an object": (
        "slack_agents",
        json.dumps(
            _set(fixture("slack", "03_event_message_thread_reply.json"), "event.subtype", [1])
        ).encode(),
    ),
    "twilio Latitude=1e999": ("twilio", form("01_inbound_sms", Latitude="1e999", Longitude="2")),
    "twilio Latitude=nan": ("twilio", form("01_inbound_sms", Latitude="nan", Longitude="2")),
    "whatsapp nested 100,000 deep": ("whatsapp", DEEP),
    "whatsapp messages[0].type as a list": (
        "whatsapp",
        whatsapp("entry.0.changes.0.value.messages.0.type", ["text"]),
    ),
    "whatsapp latitude as the string 1e999": (
        "whatsapp",
        whatsapp(
            "entry.0.changes.0.value.messages.0",
            {
                "from": "972987654321",
                "id": "wamid.loc",
                "type": "location",
                "location": {"latitude": "1e999", "longitude": 2},
            },
        ),
    ),
    "whatsapp 400-digit latitude": (
        "whatsapp",
        whatsapp(
            "entry.0.changes.0.value.messages.0",
            {
                "from": "972987654321",
                "id": "wamid.loc",
                "type": "location",
                "location": {"latitude": HUGE, "longitude": 2},
            },
        ),
    ),
}

JUNK = "sha256=" + "é" * 64
# (route, headers): junk signatures, which raised inside the comparison before the fix.
UNVERIFIABLE: dict[str, tuple[str, dict[str, str]]] = {
    "api non-ASCII signature": ("api", {"X-Frontdesk-Signature": JUNK}),
    "telegram non-ASCII secret": ("telegram", {"X-Telegram-Bot-Api-Secret-Token": "é" * 20}),
    "whatsapp non-ASCII signature": ("whatsapp", {"X-Hub-Signature-256": JUNK}),
    "twilio non-ASCII signature": ("twilio", {"X-Twilio-Signature": "é" * 28}),
}


@pytest.fixture
def routes() -> dict[str, Target]:
    return targets()


@pytest.fixture
async def client(aiohttp_client: Client, routes: dict[str, Target]) -> Iterator[TestClient]:
    settings = Settings.model_validate({"store": {"url": "memory://"}})
    adapters = {t.adapter.name: t.adapter for key, t in routes.items() if key != "slack_agents"}
    app = create_app(settings, channels=adapters, workers=False)
    test_client: TestClient = await aiohttp_client(app)
    return test_client  # type: ignore[return-value]


async def post(client: TestClient, target: Target, body: bytes, headers: dict[str, str]) -> int:
    async with client.post(target.path, data=body, headers=headers) as resp:
        return resp.status


async def queued(client: TestClient) -> str:
    async with client.get("/metrics") as resp:
        text = await resp.text()
    return "\n".join(line for line in text.splitlines() if "events_in_total{" in line)


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_signed_malformed_body_is_a_400_and_nothing_is_queued(
    client: TestClient, routes: dict[str, Target], case: str
) -> None:
    route, body = MALFORMED[case]
    target = routes["slack_events" if route == "slack_agents" else route]
    headers = {"Content-Type": target.content_type, **target.sign(body)}
    assert await post(client, target, body, headers) == 400
    assert 'outcome="malformed"} 1.0' in await queued(client)
    assert 'outcome="accepted"' not in await queued(client)


@pytest.mark.parametrize("case", list(MALFORMED))
def test_the_adapter_itself_rejects_the_malformed_body(
    routes: dict[str, Target], case: str
) -> None:
    route, body = MALFORMED[case]
    target = routes[route]
    target.adapter.verify(target.request(body))
    with pytest.raises(WebhookRejected) as caught:
        target.adapter.parse(target.request(body))
    assert caught.value.status == 400


@pytest.mark.parametrize("case", list(UNVERIFIABLE))
async def test_junk_signature_is_refused_without_a_secret(
    client: TestClient, routes: dict[str, Target], case: str
) -> None:
    route, junk = UNVERIFIABLE[case]
    target = routes[route]
    body = b'{"update_id": 1}' if target.content_type.endswith("json") else form("01_inbound_sms")
    assert await post(client, target, body, {"Content-Type": target.content_type, **junk}) == 403


@pytest.mark.parametrize(
    "headers, body",
    [
        ({"X-Slack-Signature": "v0=" + "é" * 64}, b'{"type": "event_callback"}'),
        ({}, b'{"type": "event_callback", "text": "\xff\xfe"}'),  # signed, not UTF-8
    ],
    ids=["non-ASCII signature", "body not UTF-8"],
)
async def test_slack_junk_signature_is_refused(
    client: TestClient, routes: dict[str, Target], headers: dict[str, str], body: bytes
) -> None:
    target = routes["slack_events"]
    # The real signer cannot sign bytes that are not UTF-8: a fresh timestamp, any signature.
    signed = {"Content-Type": "application/json", **target.sign(b"{}"), **headers}
    assert await post(client, target, body, signed) == 403


async def test_a_valid_location_still_goes_through(
    client: TestClient, routes: dict[str, Target]
) -> None:
    target = routes["telegram"]
    body = telegram("message.location", {"latitude": -33.9, "longitude": 151.2})
    assert await post(client, target, body, {**target.sign(body)}) == 200
    assert 'outcome="accepted"} 1.0' in await queued(client)
    assert HANDOFF_CHANNEL  # the agents' route is covered at the adapter level


async def test_a_body_over_the_size_cap_is_a_413(
    client: TestClient, routes: dict[str, Target]
) -> None:
    from gateway.http import MAX_BODY_BYTES

    target = routes["api"]
    text = "a" * MAX_BODY_BYTES
    body = json.dumps({"id": "big", "conversation_id": "c", "user_id": "u", "text": text})
    raw = body.encode()
    async with client.post(target.path, data=io.BytesIO(raw), headers=target.sign(raw)) as resp:
        assert resp.status == 413
    assert 'outcome="accepted"' not in await queued(client)
