"""End to end: signed Slack webhooks into the gateway (real Redis), replies out to a fake
Slack Web API through slack_sdk."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from channels.slack import SlackChannel
from frontdesk.app import create_app
from frontdesk.config import Settings
from gateway.http import GATEWAY
from gateway.sessions import decode_entry
from tests.support.fake_slack import FakeSlack, form_body, payload, signed_headers, start_fake_slack

TOKEN = "xoxb-e2e"
SECRET = "e2e-signing-secret"
AGENTS = "CAGENTS"
Client = Any  # the aiohttp_client fixture's callable


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN)
    runner = await start_fake_slack(fake)
    yield fake
    await runner.cleanup()


@pytest.fixture
async def client(aiohttp_client: Client, redis_url: str, fake: FakeSlack) -> TestClient:
    settings = Settings.model_validate(
        {
            "store": {"url": redis_url},
            "workers": {"lease": 2, "reclaim_idle": 2},
            "outbox": {"base_delay": 0.05, "max_delay": 0.2, "max_attempts": 3},
            "channels": {
                "slack": {
                    "bot_token": TOKEN,
                    "signing_secret": SECRET,
                    "api_base_url": fake.base_url,
                }
            },
            "handoff": {"slack_channel": AGENTS},
        }
    )
    slack = settings.channels.slack
    adapter = SlackChannel(
        bot_token=slack.bot_token,
        signing_secret=slack.signing_secret,
        api_base_url=slack.api_base_url,
        handoff_channel=settings.handoff.slack_channel,
        timeout=settings.outbox.timeout,
    )
    test_client: TestClient = await aiohttp_client(
        create_app(settings, channels={"slack": adapter})
    )
    return test_client


def dm(text: str, *, event_id: str = "Ev0DM1", channel: str = "D0DM", user: str = "W222") -> bytes:
    data = json.loads(payload("02_event_message_channel.json"))
    data["event_id"] = event_id
    data["event"].update(text=text, channel=channel, channel_type="im", user=user)
    return json.dumps(data).encode()


async def post(
    client: TestClient, body: bytes, *, form: bool = False, retry: int | None = None
) -> tuple[int, bytes]:
    headers = signed_headers(body, SECRET, form=form)
    if retry is not None:
        headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
    resp = await client.post("/webhooks/slack", data=body, headers=headers)
    return resp.status, await resp.read()


async def test_signed_dm_gets_one_echo_in_the_dm(client: TestClient, fake: FakeSlack) -> None:
    assert await post(client, dm("where is my order?")) == (200, b"")
    [reply] = await fake.wait_for_posts(1)
    assert reply["channel"] == "D0DM"
    assert "thread_ts" not in reply
    assert reply["text"] == "echo: where is my order?"
    assert reply["blocks"][0]["text"]["text"] == "echo: where is my order?"
    transcript = await client.app[GATEWAY].store.transcript("slack:T111:W222")
    assert [decode_entry(e).text for e in transcript] == [
        "where is my order?",
        "echo: where is my order?",
    ]


async def test_slack_retries_of_one_event_give_one_reply(
    client: TestClient, fake: FakeSlack
) -> None:
    body = dm("only once", event_id="Ev0RETRY")
    assert (await post(client, body))[0] == 200
    for n in (1, 2):
        assert (await post(client, body, retry=n))[0] == 200
    await fake.wait_for_posts(1)
    # A later message of the same conversation is answered after the retries were handled,
    # so by then any duplicate reply would have been sent.
    assert (await post(client, dm("and then", event_id="Ev0NEXT")))[0] == 200
    posts = await fake.wait_for_posts(2)
    assert [p["text"] for p in posts] == ["echo: only once", "echo: and then"]
    metrics = await (await client.get("/metrics")).text()
    assert 'frontdesk_events_in_total{channel="slack",outcome="duplicate"} 2.0' in metrics


async def test_mention_in_a_channel_is_answered_in_a_thread(
    client: TestClient, fake: FakeSlack
) -> None:
    data = json.loads(payload("04_event_app_mention.json"))
    data["event"]["text"] = "<@W111> <!channel> look <http://evil|here>"
    assert (await post(client, json.dumps(data).encode()))[0] == 200
    [reply] = await fake.wait_for_posts(1)
    assert (reply["channel"], reply["thread_ts"]) == ("C111", "1595926230.009600")
    assert reply["text"] == "echo: &lt;!channel&gt; look &lt;http://evil|here&gt;"


async def test_button_press_is_answered_with_its_payload(
    client: TestClient, fake: FakeSlack
) -> None:
    data = json.loads(payload("07_block_actions.payload.json"))
    data["container"].update(channel_id="D0DM", thread_ts="111.000")
    data["channel"]["id"] = "D0DM"
    assert await post(client, form_body(data), form=True) == (200, b"")
    [reply] = await fake.wait_for_posts(1)
    assert (reply["channel"], reply["thread_ts"]) == ("D0DM", "111.000")
    assert reply["text"] == "echo: click_me_123"


async def test_slash_command_acks_empty_and_replies_through_the_api(
    client: TestClient, fake: FakeSlack
) -> None:
    assert await post(client, payload("08_slash_command.form.txt"), form=True) == (200, b"")
    [reply] = await fake.wait_for_posts(1)
    assert (reply["channel"], reply["text"]) == ("C111", "echo: /hello-world Hi")


async def test_handoff_channel_and_bot_messages_get_no_reply(
    client: TestClient, fake: FakeSlack
) -> None:
    assert (await post(client, dm("agent chatter", event_id="Ev0AG", channel=AGENTS)))[0] == 200
    assert (await post(client, payload("05_event_message_bot_id.json")))[0] == 200
    metrics = await (await client.get("/metrics")).text()
    assert 'frontdesk_events_in_total{channel="slack",outcome="accepted"}' not in metrics
    assert (await post(client, dm("customer", event_id="Ev0CU")))[0] == 200
    # Nothing of the first two was queued, so the customer's reply is the only post.
    assert [(p["channel"], p["text"]) for p in await fake.wait_for_posts(1)] == [
        ("D0DM", "echo: customer")
    ]
    assert len(fake.calls_to("chat.postMessage")) == 1


async def test_url_verification_answers_the_challenge(client: TestClient) -> None:
    status, body = await post(client, payload("01_url_verification.json"))
    assert status == 200
    assert json.loads(body) == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


async def test_unsigned_stale_or_forged_webhooks_are_refused(
    client: TestClient, fake: FakeSlack
) -> None:
    body = dm("let me in", event_id="Ev0BAD")
    unsigned = await client.post("/webhooks/slack", data=body)
    stale = await client.post(
        "/webhooks/slack", data=body, headers=signed_headers(body, SECRET, timestamp=1700000000)
    )
    forged = await client.post("/webhooks/slack", data=body, headers=signed_headers(body, "guess"))
    assert [unsigned.status, stale.status, forged.status] == [401, 403, 403]
    metrics = await (await client.get("/metrics")).text()
    assert 'frontdesk_events_in_total{channel="slack",outcome="rejected"} 3.0' in metrics
    assert await client.app[GATEWAY].store.depth("turns") == 0
    assert fake.calls_to("chat.postMessage") == []


async def test_malformed_signed_body_is_400(client: TestClient) -> None:
    assert (await post(client, b"{not json"))[0] == 400
