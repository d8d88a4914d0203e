"""One customer's very long messages must not hold up the gateway: the bot reads at most
``nlu.max_text_chars`` of a message (in a thread when it is long, with sentiment in linear
time), so /healthz and other conversations keep answering, while agents still get every
character in the transcript."""

from __future__ import annotations

import json
from typing import Any

from dialogs.runner import DialogRunner
from frontdesk.app import create_app
from frontdesk.config import Settings
from gateway.http import GATEWAY
from nlu.sentiment import sentiment
from tests.conftest import API_SECRET, api_body, signed_headers
from tests.support.fake_callback import FakeCallback

COMPLAINT = "I am really not happy with this order, it arrived late and the box was broken. "


def long_text(chars: int) -> str:
    return (COMPLAINT * (chars // len(COMPLAINT) + 1))[:chars]


async def test_megabyte_and_40k_messages_do_not_stall_others(
    aiohttp_client: Any,
    redis_url: str,
    callback: tuple[FakeCallback, str],
    runner: DialogRunner,
) -> None:
    fake, url = callback
    settings = Settings.model_validate(
        {
            "store": {"url": redis_url},
            "channels": {"api": {"secret": API_SECRET, "callback_url": url}},
        }
    )
    app = create_app(settings, dialog=runner)
    client = await aiohttp_client(app)

    async def post(text: str, user: str, event_id: str) -> None:
        body = api_body(text, conversation=f"c-{user}", user=user, event_id=event_id)
        resp = await client.post("/webhooks/api", data=body, headers=signed_headers(body))
        assert resp.status == 200, await resp.text()

    huge = long_text(1_000_000)  # VADER alone took about half an hour on this before
    await post(huge, "flooder", "long-0")
    for n in range(1, 4):
        await post(long_text(40_000), "flooder", f"long-{n}")
    await post("hello", "calm", "calm-1")

    health = await client.get("/healthz")
    assert health.status == 200

    expected = {"calm-1", "long-0", "long-1", "long-2", "long-3"}
    answered: set[str] = set()
    while not expected <= answered:  # each turn may answer with more than one message
        replies = await fake.wait_for(len(fake.delivered) + 1, timeout=60)
        answered = {r["in_reply_to"] for r in replies}

    # The agents' view keeps every character of what the customer wrote.
    store = app[GATEWAY].store
    entries = [json.loads(e) for e in await store.transcript("api:flooder")]
    said = [e["text"] for e in entries if e["direction"] == "in"]
    assert said[0] == huge
    assert [len(t) for t in said[1:]] == [40_000] * 3


def test_sentiment_of_a_long_text_is_that_of_its_pieces() -> None:
    """Scoring in pieces keeps the sign and strength of a long complaint, and a text of one
    piece scores as VADER scores it."""
    assert sentiment(COMPLAINT) < -0.5
    assert sentiment(long_text(200_000)) < -0.5
    assert sentiment("Thanks, that was great! " * 5000) > 0.5
    assert sentiment("x" * 20_000) == 0.0
