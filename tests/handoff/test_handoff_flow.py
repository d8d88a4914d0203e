"""A handoff end to end: card and transcript, claim, relayed replies, notes, refusals, customer
messages in the thread, resolve with a rating, and the bot answering again in context."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.handoff.state import handoff_of
from gateway.sessions import decode_entry
from tests.handoff.conftest import PHONE, Client, Desk, until
from tests.support.waiting import drained

TG = "telegram:1111111"
TEL = f"tel:{PHONE}"


def texts(desk: Desk) -> list[str]:
    return [c.params["text"] for c in desk.telegram.of("sendMessage")]


async def handed_off(desk: Desk, aiohttp_client: Client, redis_url: str, **handoff: Any) -> str:
    await desk.open(aiohttp_client, redis_url, **handoff)
    await desk.telegram_says("hi, about my order 12345 <!channel> <https://evil.example|bank>")
    await until(lambda: len(texts(desk)) == 1)
    await desk.telegram_says("agent")
    return await desk.card_ts()


async def test_card_and_transcript_are_posted_and_the_customer_is_told(
    desk: Desk, aiohttp_client: Client, redis_url: str
) -> None:
    card_ts = await handed_off(desk, aiohttp_client, redis_url)
    [card] = desk.slack.cards()
    assert card["channel"] == "CAGENTS"
    assert card["blocks"][0]["text"]["text"] == "Handoff: Test Firstname Test Lastname on Telegram"
    fields = [f["text"] for b in card["blocks"] if "fields" in b for f in b["fields"]]
    assert "*Why*\nasked for a person (keyword)" in fields
    assert "*Intent*\nhuman_handoff (93%)" in fields
    assert "*Known*\norder_id=12345" in fields
    assert any(f.startswith("*Status*\nWaiting for an agent") for f in fields)
    buttons = [e["value"] for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["handoff:claim", "handoff:resolve", "handoff:return_to_bot"]
    [transcript] = await until(lambda: desk.slack.thread(card_ts))
    assert "Conversation so far:" in transcript
    assert (
        "hi, about my order 12345 &lt;!channel&gt; &lt;https://evil.example|bank&gt;" in transcript
    )
    assert "Bot: bot: hi, about my order" in transcript
    assert "<!channel>" not in transcript and "<https://evil" not in transcript
    await until(lambda: len(texts(desk)) == 3)
    assert texts(desk)[1:] == [
        "Let me get you a person.",
        "I'm handing you over to a person from our team. Someone will be with you as soon "
        "as possible. You can keep writing here in the meantime.",
    ]
    session = await desk.session(TG)
    assert session.owner == "queued"


async def test_two_agents_claim_at_once_and_one_owns_it(
    desk: Desk, aiohttp_client: Client, redis_url: str
) -> None:
    card_ts = await handed_off(desk, aiohttp_client, redis_url)
    statuses = await asyncio.gather(
        desk.press("handoff:claim", "UALICE", "alice", card_ts),
        desk.press("handoff:claim", "UBOB", "bob", card_ts),
    )
    assert list(statuses) == [200, 200]
    [(loser, refusal)] = await until(lambda: desk.slack.ephemerals())
    winner = "Bob" if loser == "UALICE" else "Alice"
    assert refusal == f"{winner} already claimed this conversation."
    session = await desk.session(TG)
    assert (session.owner, session.agent) == ("agent", winner)
    [update] = await until(lambda: desk.slack.ok_calls("chat.update"))
    assert update["ts"] == card_ts
    fields = [f["text"] for b in update["blocks"] if "fields" in b for f in b["fields"]]
    assert f"*Status*\nWith {winner}" in fields
    await until(lambda: f"You're now talking with {winner}." in texts(desk))
    assert f"{winner} claimed this conversation." in desk.slack.thread(card_ts)


async def test_owner_reply_reaches_telegram_with_their_name_and_is_marked(
    desk: Desk, aiohttp_client: Client, redis_url: str
) -> None:
    card_ts = await handed_off(desk, aiohttp_client, redis_url)
    await desk.press("handoff:claim", "UALICE", "alice", card_ts)
    await until(lambda: "You're now talking with Alice." in texts(desk))
    ts = await desk.agent_says(
        "Your parcel left today: <https://track.example/1|tracking>", "UALICE", card_ts
    )
    await until(
        lambda: "Alice: Your parcel left today: tracking (https://track.example/1)" in texts(desk)
    )
    assert await until(lambda: (ts, "heavy_check_mark") in desk.slack.reactions())


async def test_note_stays_internal_and_others_are_refused(
    desk: Desk, aiohttp_client: Client, redis_url: str
) -> None:
    card_ts = await handed_off(desk, aiohttp_client, redis_url)
    await desk.agent_says("hello?", "UBOB", card_ts)  # nobody has claimed it yet
    await until(lambda: len(desk.slack.ephemerals()) == 1)
    await desk.press("handoff:claim", "UALICE", "alice", card_ts)
    await desk.agent_says("// checked the CRM, VIP customer", "UALICE", card_ts)
    await desk.agent_says("I can take this one", "UBOB", card_ts)
    await desk.agent_says("Hello, Alice here", "UALICE", card_ts)
    await until(lambda: "Alice: Hello, Alice here" in texts(desk))
    sent = texts(desk)
    assert not any("CRM" in t or "take this one" in t or "hello?" in t for t in sent)
    refusals = await until(lambda: len(desk.slack.ephemerals()) == 2 and desk.slack.ephemerals())
    assert refusals[0][0] == "UBOB" and "press Claim" in refusals[0][1]
    assert refusals[1][0] == "UBOB" and refusals[1][1].startswith("Alice owns this conversation")


async def test_customer_messages_reach_the_thread_not_the_bot(
    desk: Desk, aiohttp_client: Client, redis_url: str
) -> None:
    card_ts = await handed_off(desk, aiohttp_client, redis_url)
    await until(lambda: len(texts(desk)) == 3)
    await desk.telegram_says("are you there? @here")
    thread = await until(
        lambda: len(desk.slack.thread(card_ts)) == 2 and desk.slack.thread(card_ts)
    )
    assert thread[1] == "*Test Firstname Test Lastname*: are you there? @here"
    await drained(desk.gateway)
    assert len(texts(desk)) == 3  # the bot said nothing


async def test_resolve_asks_for_a_rating_then_the_bot_is_back_in_context(
    desk: Desk, aiohttp_client: Client, redis_url: str
) -> None:
    card_ts = await handed_off(desk, aiohttp_client, redis_url)
    await desk.press("handoff:claim", "UALICE", "alice", card_ts)
    await desk.agent_says("Sorted, anything else?", "UALICE", card_ts)
    await desk.press("handoff:resolve", "UALICE", "alice", card_ts)
    question = await until(
        lambda: [c for c in desk.telegram.of("sendMessage") if "rate" in c.params["text"]]
    )
    keyboard = question[0].json("reply_markup")["inline_keyboard"]
    assert [b["callback_data"] for row in keyboard for b in row] == [
        f"csat:{n}" for n in range(1, 6)
    ]
    assert "Resolved by Alice. The bot takes over again." in desk.slack.thread(card_ts)
    await desk.telegram_presses("csat:4")
    await until(lambda: "Welcome back! Anything else about order 12345?" in texts(desk))
    assert texts(desk)[-2] == "Thank you for your feedback!"
    session = await desk.session(TG)
    assert session.owner == "bot"
    state = handoff_of(session)
    assert state is not None and (state.csat, state.outcome, state.state) == (
        4,
        "resolved",
        "closed",
    )
    await until(lambda: "The customer rated the help 4/5." in desk.slack.thread(card_ts))
    await desk.telegram_says("thanks")
    await until(lambda: texts(desk)[-1] == "bot: thanks")
    entries = [decode_entry(e) for e in await desk.gateway.store.transcript(TG)]
    agent_entries = [e.text for e in entries if e.direction == "agent"]
    assert agent_entries == ["[claim]", "[reply] Sorted, anything else?", "[resolve]"]
    metrics = await (await desk.client.get("/metrics")).text()  # type: ignore[union-attr]
    assert 'frontdesk_csat_total{score="4"} 1.0' in metrics
    assert 'frontdesk_handoffs_total{trigger="keyword"} 1.0' in metrics
    assert 'frontdesk_handoffs_closed_total{outcome="resolved"} 1.0' in metrics


async def test_return_to_bot_skips_the_rating(
    desk: Desk, aiohttp_client: Client, redis_url: str
) -> None:
    card_ts = await handed_off(desk, aiohttp_client, redis_url)
    await desk.agent_says("!bot", "UBOB", card_ts)
    await until(lambda: "Welcome back! Anything else about order 12345?" in texts(desk))
    assert not any("rate" in t for t in texts(desk))
    assert "Bob returned the conversation to the bot." in desk.slack.thread(card_ts)
    assert (await desk.session(TG)).owner == "bot"


async def test_sms_then_whatsapp_stays_in_one_thread_and_delivery_is_marked(
    desk: Desk, aiohttp_client: Client, redis_url: str
) -> None:
    await desk.open(aiohttp_client, redis_url)
    await desk.sms_says("agent")
    card_ts = await desk.card_ts()
    await desk.press("handoff:claim", "UALICE", "alice", card_ts)
    await desk.agent_says("Hi from Alice", "UALICE", card_ts)
    relayed = await until(
        lambda: [r for r in desk.twilio.accepted if r.field("Body") == "Alice: Hi from Alice"]
    )
    assert relayed[0].field("To") == PHONE
    await desk.whatsapp_says("switching to WhatsApp")
    await until(lambda: any("(now on WhatsApp)" in t for t in desk.slack.thread(card_ts)))
    agent_ts = await desk.agent_says("Got it", "UALICE", card_ts)
    whatsapp = await until(
        lambda: [r for r in desk.twilio.accepted if r.field("Body") == "Alice: Got it"]
    )
    assert whatsapp[0].field("To") == f"whatsapp:{PHONE}"
    assert len(desk.slack.cards()) == 1
    await desk.twilio_says(
        "04_status_delivered", "/webhooks/twilio/status", MessageSid=whatsapp[0].sid or ""
    )
    await until(lambda: (agent_ts, "white_check_mark") in desk.slack.reactions())
