"""The worker's turn rules, channel-independent: opt-out, help, numbered options, the
WhatsApp service window, interaction ids, edits, and who speaks."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from channels.registry import known_capabilities
from common.messages import Button, ConversationRef, CustomerMessage, CustomerRef
from dialogs.base import Handoff, Outcome, Reply, SystemEvent, TurnContext
from dialogs.echo import EchoDialog
from gateway.metrics import Metrics
from gateway.sessions import Session
from gateway.store.memory import MemoryStore
from gateway.worker import NO_AGENTS_TEXT, TurnWorker


class MenuDialog:
    """Offers two buttons, then says which payload it got."""

    async def respond(
        self, state: Mapping[str, Any], event: CustomerMessage | SystemEvent, context: TurnContext
    ) -> Outcome:
        assert isinstance(event, CustomerMessage)
        if event.button_payload:
            return Outcome(
                state=dict(state), replies=[Reply(text=f"you chose {event.button_payload}")]
            )
        buttons = (
            Button(title="Track order", payload="track"),
            Button(title="Returns", payload="ret"),
        )
        return Outcome(state=dict(state), replies=[Reply(text="How can I help?", buttons=buttons)])


def worker(dialog: Any = None) -> TurnWorker:
    return TurnWorker(
        store=MemoryStore(),
        dialog=dialog or EchoDialog(),
        metrics=Metrics(),
        session_ttl=60,
        transcript_limit=50,
        help_text="Help: reply STOP to opt out.",
        capabilities=known_capabilities(),
    )


def msg(text: str, channel: str = "sms", n: int = 1, **extra: Any) -> CustomerMessage:
    return CustomerMessage(
        event_id=f"e{n}",
        conversation=ConversationRef(channel=channel, chat_id="+14155238886"),
        customer=CustomerRef(channel=channel, user_id="+14155238886"),
        text=text,
        received_at=1000.0 + n,
        **extra,
    )


async def test_stop_silences_the_channel_until_start() -> None:
    w, session = worker(), Session(key="tel:+14155238886")
    session, out = await w.turn(session, msg("STOP", control="opt_out"))
    assert out == [] and session.opted_out == ("sms",)
    session, out = await w.turn(session, msg("hello?", n=2))
    assert out == []  # the dialog ran, but nothing goes to an opted-out number
    session, out = await w.turn(session, msg("START", control="opt_in", n=3))
    assert out == [] and session.opted_out == ()
    session, out = await w.turn(session, msg("hello", n=4))
    assert [m.text for m in out] == ["echo: hello"]


async def test_opt_out_on_sms_does_not_silence_whatsapp() -> None:
    w, session = worker(), Session(key="tel:+14155238886")
    session, _ = await w.turn(session, msg("STOP", control="opt_out"))
    session, out = await w.turn(session, msg("hi", channel="whatsapp", n=2))
    assert [m.text for m in out] == ["echo: hi"]


async def test_help_answers_with_the_configured_text() -> None:
    _, out = await worker().turn(Session(key="k"), msg("HELP", control="help"))
    assert [m.text for m in out] == ["Help: reply STOP to opt out."]


async def test_a_number_or_a_title_answers_the_options_offered_on_sms() -> None:
    w, session = worker(MenuDialog()), Session(key="k")
    session, out = await w.turn(session, msg("hi"))
    assert [b.payload for b in out[0].buttons] == ["track", "ret"]
    assert session.offered == {"sms": [["Track order", "track"], ["Returns", "ret"]]}
    session, out = await w.turn(session, msg("2", n=2))
    assert [m.text for m in out] == ["you chose ret"]
    assert session.offered == {}  # the answer's reply offered nothing
    session, _ = await w.turn(session, msg("hi", n=3))
    session, out = await w.turn(session, msg(" track ORDER. ", n=4))
    assert [m.text for m in out] == ["you chose track"]


async def test_numbers_mean_nothing_where_buttons_are_native() -> None:
    w, session = worker(MenuDialog()), Session(key="k")
    session, _ = await w.turn(session, msg("hi", channel="telegram"))
    assert session.offered == {}
    _, out = await w.turn(session, msg("2", channel="telegram", n=2))
    assert [m.text for m in out] == ["How can I help?"]


async def test_whatsapp_replies_carry_the_end_of_the_service_window() -> None:
    w = worker()
    _, out = await w.turn(Session(key="k"), msg("hi", channel="whatsapp_cloud", n=5))
    assert out[0].window_closes_at == 1005.0 + 24 * 3600
    _, out = await w.turn(Session(key="k"), msg("hi", channel="sms", n=5))
    assert out[0].window_closes_at is None


async def test_replies_to_a_button_press_carry_its_interaction_id() -> None:
    _, out = await worker().turn(
        Session(key="k"), msg("", channel="telegram", button_payload="yes", interaction_id="cq-9")
    )
    assert [(m.text, m.interaction_id) for m in out] == [("echo: yes", "cq-9")]


async def test_edits_are_not_answered_and_agents_are_not_talked_over() -> None:
    w = worker()
    _, out = await w.turn(Session(key="k"), msg("typo fixed", edited=True))
    assert out == []
    with_agent = dataclasses.replace(Session(key="k"), owner="agent", agent="U123")
    _, out = await w.turn(with_agent, msg("are you there?"))
    assert out == []


class HandOffDialog:
    async def respond(
        self, state: Mapping[str, Any], event: CustomerMessage | SystemEvent, context: TurnContext
    ) -> Outcome:
        return Outcome(
            state=dict(state),
            replies=[Reply(text="Passing you to a colleague.")],
            handoff=Handoff(trigger="keyword", reason="asked for a person"),
        )


async def test_without_an_agents_desk_the_bot_stays_and_says_so() -> None:
    session, out = await worker(HandOffDialog()).turn(Session(key="k"), msg("agent please"))
    assert session.owner == "bot"  # not left waiting for nobody
    assert [m.text for m in out] == ["Passing you to a colleague.", NO_AGENTS_TEXT]
