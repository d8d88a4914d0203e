"""The handoff's typed state and records: what earlier releases stored still loads and works,
the customer is told once, and the card says each thing once."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from common.messages import ConversationRef, CustomerRef
from dialogs.runner import summary
from gateway.handoff import card as cards
from gateway.handoff.records import Claimed, HandedOff, record_json, record_of
from gateway.handoff.state import handoff_of
from gateway.handoff.stats import summarise
from gateway.handoff.store import MemoryHandoffStore
from gateway.sessions import HandoffState, Session, decode_session, encode_session
from tests.handoff.conftest import Client, Desk, until

TG = "telegram:1111111"
CARD_TS = "1764800000.000100"
# A session as the release before typed handoff state stored it (gateway.sessions of commit
# 1866246): the handoff is a JSON object, here claimed by Alice.
OLD_SESSION = (
    '{"key":"telegram:1111111","version":3,"owner":"agent","agent":"Alice",'
    '"names":{"telegram":"Test Firstname Test Lastname"},"channels":["telegram"],'
    '"last_inbound":{"telegram":1764800000.0},"opted_out":[],"offered":{},'
    '"handoff":{"card":"tg:19999#card","customer":{"channel":"telegram","user_id":"1111111",'
    '"display_name":"Test Firstname Test Lastname","phone":null},"conversation":'
    '{"channel":"telegram","chat_id":"1111111","thread_id":null},"trigger":"keyword",'
    '"reason":"asked for a person","queue":null,"summary":"Order question","at":1764800000.0,'
    '"debug":{"intent":"human_handoff","confidence":0.93},"state":"agent","after_hours":false,'
    '"agent_id":"UALICE","agent_name":"Alice","claimed_at":1764800060.0,"first_reply_at":null,'
    '"last_customer_at":1764800000.0,"last_agent_at":null,"announced_at":1764800000.0,'
    '"announces":0,"outcome":null,"closed_at":null,"closed_by":null,"csat":null},'
    '"slots":{"order_id":"12345"},"rate":{},"dialog":{},"created_at":1764799990.0,'
    '"updated_at":1764800060.0}'
)


def texts(desk: Desk) -> list[str]:
    return [c.params["text"] for c in desk.telegram.of("sendMessage")]


async def test_a_handoff_stored_by_the_previous_release_goes_on(
    desk: Desk, aiohttp_client: Client, redis_url: str
) -> None:
    """A gateway upgraded in the middle of a handoff: the agent's next reply still reaches
    the customer, and the session is saved back in the typed shape."""
    await desk.open(aiohttp_client, redis_url)
    redis = desk.gateway.store.redis  # type: ignore[attr-defined]
    await redis.hset("fd:{telegram:1111111}:session", mapping={"v": 3, "data": OLD_SESSION})
    customer = json.dumps(json.loads(OLD_SESSION)["handoff"]["customer"])
    assert desk.gateway.handoff is not None
    await desk.gateway.handoff.store.record_card(TG, "tg:19999#card", CARD_TS, customer)

    await desk.agent_says("Your parcel left today.", "UALICE", CARD_TS)
    await until(lambda: "Alice: Your parcel left today." in texts(desk))
    session = await desk.session(TG)
    state = handoff_of(session)
    assert state is not None and (state.state, state.agent_name) == ("agent", "Alice")
    assert state.first_reply_at is not None  # the turn moved the typed state on
    assert session.version == 4


def test_a_handoff_the_desk_never_took_in_returns_the_customer_to_the_bot() -> None:
    """The other shape the untyped handoff had: what the dialog said, before the desk posted a
    card. A session stored so would wait for nobody; it loads with the bot answering."""
    raw = json.loads(OLD_SESSION)
    raw["owner"] = "queued"
    raw["agent"] = None
    raw["handoff"] = {
        "trigger": "keyword",
        "reason": "asked for a person",
        "queue": None,
        "summary": "",
        "at": 1764800000.0,
        "debug": {},
    }
    session = decode_session(json.dumps(raw).encode())
    assert (session.owner, session.handoff) == ("bot", None)
    assert session.slots == {"order_id": "12345"}


def test_the_typed_state_round_trips_and_reads_like_the_old_mapping() -> None:
    state = HandoffState(
        card="e1#card",
        customer=CustomerRef(channel="sms", user_id="+15555550123"),
        conversation=ConversationRef(channel="sms", chat_id="+15555550123"),
        trigger="fallback",
        state="requested",
    )
    session = Session(key="tel:+15555550123", owner="queued", handoff=state)
    again = decode_session(encode_session(session))
    assert again.handoff == state
    assert handoff_of(again) is None  # requested: not taken in by the desk yet
    assert state["trigger"] == "fallback"


async def test_statistics_logged_by_the_previous_release_are_still_summarised() -> None:
    hstore = MemoryHandoffStore()
    # Untyped records, as the previous release logged them, and one of a kind unknown here.
    await hstore.log({"type": "handoff", "at": 100.0, "trigger": "keyword", "queue": "default",
                      "after_hours": True})  # fmt: skip
    await hstore.log({"type": "claim", "at": 160.0, "seconds": 60.0, "queue": "default",
                      "agent": "Alice"})  # fmt: skip
    await hstore.log({"type": "escalated", "at": 170.0})
    await hstore.log(record_json(Claimed(at=200.0, seconds=30.0, queue="default", agent="Bob")))
    result = await summarise(hstore, 0.0, 1000.0)
    assert dict(result.handoffs) == {"keyword": 1}
    assert result.after_hours == 1
    assert sorted(result.claim) == [30.0, 60.0]
    assert record_of({"type": "handoff", "at": 1.0, "trigger": "t", "queue": "q"}) == HandedOff(
        at=1.0, trigger="t", queue="q"
    )


def test_the_card_summary_does_not_repeat_the_known_slots() -> None:
    """The example bot's summary ("last intent: …; slots: …") beside the card's own Intent and
    Known fields said both things twice."""
    slots = {"order_id": "AB12345", "tier": "standard"}
    state = HandoffState(
        card="e1#card",
        customer=CustomerRef(channel="telegram", user_id="1", display_name="Ann"),
        conversation=ConversationRef(channel="telegram", chat_id="1"),
        trigger="keyword",
        reason="asked for a person",
        summary="last intent: talk_to_human; slots: order_id=AB12345, tier=standard",
        debug={"intent": "talk_to_human", "confidence": 1.0, "question": "I want a human"},
    )
    assert summary(None, slots) == "slots: order_id=AB12345, tier=standard"  # the real format
    session = Session(key="telegram:1", slots=slots)
    card = cards.build_card(session, state, 0.0, ZoneInfo("UTC"), {"telegram": "Telegram"})
    known = [f.value for f in card.fields if f.label == "Known"]
    assert known == ["order_id=AB12345, tier=standard"]
    assert card.text == "Summary: The customer wrote “I want a human”"
    assert "AB12345" not in card.text and "talk_to_human" not in card.text
    # What the fields do not show stays in the summary.
    other = state.replace(summary="Order question; slots: tier=standard", debug={})
    card = cards.build_card(session, other, 0.0, ZoneInfo("UTC"), {})
    assert card.text == "Summary: Order question"
