"""Knowledge-base answers end to end: signed Telegram and Twilio SMS webhooks in, the example
bot (its FAQ and article) through the real NLU, engine and worker, replies out through the
fake platforms; "No" twice hands off to the agents' Slack channel; a form is not hijacked."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from dialogs.runner import DialogRunner
from frontdesk.app import create_app
from tests.handoff.conftest import Client, Desk, Http, channels_for, settings_for, until

WARRANTY = (
    "Every product has a 2-year warranty against manufacturing defects. Send us a photo of the "
    "fault and your order number, and we repair or replace it for free.\n\n"
    "Source: Is there a warranty on your products? (https://northwind.example/help/warranty)"
)


@pytest.fixture
async def client(
    desk: Desk, runner: DialogRunner, aiohttp_client: Client, redis_url: str
) -> AsyncIterator[Http]:
    desk.settings = settings_for(redis_url, *desk.urls)
    app = create_app(desk.settings, dialog=runner, channels=channels_for(desk.settings))
    desk.client = await aiohttp_client(app)
    yield desk.client


def telegram_sent(desk: Desk) -> list[tuple[str, list[str]]]:
    """(text, button callback data) of every message sent on Telegram."""
    out = []
    for call in desk.telegram.of("sendMessage"):
        markup = call.json("reply_markup") if "reply_markup" in call.params else {}
        rows = markup.get("inline_keyboard", [])
        out.append((call.params["text"], [b["callback_data"] for row in rows for b in row]))
    return out


def sms_sent(desk: Desk) -> list[str]:
    return [str(r.field("Body")) for r in desk.twilio.accepted]


async def metric(client: Http, outcome: str) -> float:
    text = await (await client.get("/metrics")).text()
    prefix = f'frontdesk_knowledge_total{{outcome="{outcome}"}} '
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    return float(lines[0].removeprefix(prefix)) if lines else 0.0


async def test_telegram_question_answered_with_source_and_feedback_buttons(
    desk: Desk, client: Http
) -> None:
    await desk.telegram_says("is there a warranty?")
    sent = await until(lambda: len(telegram_sent(desk)) >= 3 and telegram_sent(desk))
    greeting, answer, feedback = sent
    assert "Northwind Goods assistant" in greeting[0]
    assert answer == (WARRANTY, ["/return_policy"])  # the entry's own button
    assert feedback == ("Did that answer your question?", ["/kb_yes", "/kb_no"])
    await desk.telegram_presses("/kb_yes")
    sent = await until(lambda: len(telegram_sent(desk)) >= 4 and telegram_sent(desk))
    assert sent[3] == ("Great, glad I could help!", [])
    assert await metric(client, "answer") == 1.0
    assert await metric(client, "yes") == 1.0


async def test_telegram_no_twice_hands_off_to_the_agents(desk: Desk, client: Http) -> None:
    await desk.telegram_says("price match guarantee")
    await until(lambda: len(telegram_sent(desk)) >= 3)
    await desk.telegram_presses("/kb_no")
    sent = await until(lambda: len(telegram_sent(desk)) >= 4 and telegram_sent(desk))
    assert sent[3] == (
        "Sorry about that. You can ask again in other words, or talk to a person.",
        ["/kb_human"],
    )
    await desk.telegram_says("click and collect")
    sent = await until(lambda: len(telegram_sent(desk)) >= 6 and telegram_sent(desk))
    assert sent[4][0].startswith('Yes: choose "Click & collect" at checkout.')
    assert sent[5] == ("Did that answer your question?", ["/kb_yes", "/kb_no"])
    await desk.telegram_says("no")  # typed, not pressed
    [card] = await until(lambda: desk.slack.cards())
    assert "knowledge-base answers did not help 2 times in a row" in str(card)
    session = await desk.session("telegram:1111111")
    assert session.owner == "queued"
    assert session.handoff is not None and session.handoff["trigger"] == "fallback"
    assert await metric(client, "no") == 2.0


async def test_sms_answer_has_numbered_feedback_and_2_means_no(desk: Desk, client: Http) -> None:
    await desk.sms_says("how should I care for leather shoes?")
    sent = await until(lambda: len(sms_sent(desk)) >= 3 and sms_sent(desk))
    assert sent[1].startswith("Wipe leather bags and shoes with a damp cloth")
    assert sent[1].endswith(
        "Source: Product care guide: Caring for leather "
        "(https://northwind.example/help/product-care#caring-for-leather)"
    )
    assert sent[2].splitlines()[:3] == ["Did that answer your question?", "1. Yes", "2. No"]
    await desk.sms_says("2")
    sent = await until(lambda: len(sms_sent(desk)) >= 4 and sms_sent(desk))
    assert sent[3].startswith("Sorry about that. You can ask again in other words")
    assert "\n1. Talk to a person\n" in sent[3]
    await desk.sms_says("1")  # talk to a person
    [card] = await until(lambda: desk.slack.cards())
    assert "knowledge-base answer" in str(card)


async def test_a_form_in_progress_is_not_hijacked(desk: Desk, client: Http) -> None:
    await desk.telegram_says("where is my order")
    await until(lambda: len(telegram_sent(desk)) >= 2)
    await desk.telegram_says("is there a warranty?")
    await desk.telegram_says("AB12345")
    # Replies to one chat leave in order: once the order's status is out, every reply to the
    # question in the middle of the form is too.
    sent = await until(lambda: len(telegram_sent(desk)) >= 4 and telegram_sent(desk))
    assert [text.split(".")[0] for text, _ in sent[1:]] == [
        "Sure, I can check that",
        "Hmm, that doesn't look like an order number",
        "Good news: order AB12345 has shipped with UPS and should arrive on Thursday, June 12",
    ]
    assert await metric(client, "answer") == 0.0
