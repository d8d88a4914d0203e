"""Suggested answers in the handoff thread: the knowledge base's top answers to the question
that led to the handoff, with score and source, under the transcript; a button sends one to
the customer as the agent, and only the conversation's owner can."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from dialogs.runner import DialogRunner
from frontdesk.app import create_app
from frontdesk.assembly import build_dialog
from frontdesk.config import Settings
from nlu.result import NluBackend
from tests.handoff.conftest import Client, Desk, Http, channels_for, settings_for, until
from tests.support.fake_slack import form_body
from tests.support.slack_agents import AGENTS, signed


@pytest.fixture
async def client(
    desk: Desk, nlu: NluBackend, aiohttp_client: Client, redis_url: str
) -> AsyncIterator[Http]:
    runner: DialogRunner = build_dialog(
        Settings.model_validate({"dialogs": {"enabled": True}}), nlu
    )
    desk.settings = settings_for(redis_url, *desk.urls)
    app = create_app(desk.settings, dialog=runner, channels=channels_for(desk.settings))
    desk.client = await aiohttp_client(app)
    yield desk.client
    await runner.close()


def said(desk: Desk) -> list[str]:
    return [c.params["text"] for c in desk.telegram.of("sendMessage")]


def suggestion_posts(desk: Desk) -> list[dict[str, Any]]:
    return [
        p for p in desk.slack.ok_calls("chat.postMessage")
        if str(p.get("text", "")).startswith("Suggested answers from the knowledge base")
    ]  # fmt: skip


async def press_in_thread(desk: Desk, value: str, user: str, card_ts: str, post_ts: str) -> None:
    """A press on a button of a post in the card's thread (Slack names both in the container)."""
    body = form_body({
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T111"},
        "container": {"type": "message", "message_ts": post_ts, "thread_ts": card_ts,
                      "channel_id": AGENTS, "is_ephemeral": False},
        "channel": {"id": AGENTS, "name": "support-agents"},
        "message": {"type": "message", "ts": post_ts, "thread_ts": card_ts, "bot_id": "BBOT1"},
        "actions": [{"action_id": "fd-button-0", "block_id": "fd-buttons-0", "value": value,
                     "type": "button", "action_ts": f"{time.time():.6f}"}],
    })  # fmt: skip
    assert desk.client is not None
    resp = await desk.client.post("/webhooks/slack", data=body, headers=signed(body, form=True))
    assert resp.status == 200


async def test_suggested_answers_under_the_transcript_sent_by_the_owner_only(
    desk: Desk, client: Http
) -> None:
    await desk.telegram_says("price match guarantee")
    await until(lambda: len(said(desk)) >= 3)
    await desk.telegram_says("no")
    await until(lambda: len(said(desk)) >= 4)
    await desk.telegram_says("click and collect")
    await until(lambda: len(said(desk)) >= 6)
    await desk.telegram_says("no")  # the second miss: handoff
    card_ts = await desk.card_ts()
    [post] = await until(lambda: suggestion_posts(desk))
    assert post["thread_ts"] == card_ts
    text = str(post["text"])
    assert "1. Can I pick up my order in a store? (score " in text
    assert "https://northwind.example/help/click-and-collect)" in text
    values = [e["value"] for b in json.loads(json.dumps(post["blocks"])) if b["type"] == "actions"
              for e in b["elements"]]  # fmt: skip
    assert values[0] == "handoff:suggest:store_pickup" and len(values) == 3
    post_ts = next(
        str(c.answer["ts"]) for c in desk.slack.calls
        if c.method == "chat.postMessage" and c.body is post
    )  # fmt: skip

    before = len(said(desk))
    await press_in_thread(desk, "handoff:suggest:store_pickup", "UBOB", card_ts, post_ts)
    await until(lambda: any("Nobody has claimed" in t for _, t in desk.slack.ephemerals()))
    await desk.press("handoff:claim", "UALICE", "alice", card_ts)
    await until(lambda: any("now talking with Alice" in t for t in said(desk)))
    await press_in_thread(desk, "handoff:suggest:store_pickup", "UBOB", card_ts, post_ts)
    await until(
        lambda: any("Alice owns this conversation" in t for _, t in desk.slack.ephemerals())
    )
    await press_in_thread(desk, "handoff:suggest:store_pickup", "UALICE", card_ts, post_ts)
    sent = await until(lambda: [t for t in said(desk)[before:] if t.startswith("Alice: ")])
    assert sent == [
        'Alice: Yes: choose "Click & collect" at checkout. Your order is ready in our '
        "London and Manchester stores within 2 hours, and we send a text when it is."
    ]
