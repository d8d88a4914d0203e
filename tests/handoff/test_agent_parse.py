"""The agents' channel as events (pure) and the card as Block Kit: escaping, commands,
buttons, and what is not an agent event."""

from __future__ import annotations

import json

from channels.base import WebhookRequest
from channels.slack import SlackChannel
from channels.slack.agents import plain_text
from channels.slack.render import render_card
from common.messages import AgentEvent, Button, Card, CardField
from tests.support.slack_agents import AGENTS, button_press, signed, thread_reply


def parse(body: bytes, *, form: bool = False) -> list[AgentEvent]:
    channel = SlackChannel(bot_token="x", signing_secret="s", handoff_channel=AGENTS)
    headers = {k.lower(): v for k, v in signed(body, form=form).items()}
    events = channel.parse(
        WebhookRequest(method="POST", path="/webhooks/slack", headers=headers, body=body)
    )
    assert all(isinstance(e, AgentEvent) for e in events)
    return events  # type: ignore[return-value]


def test_thread_reply_command_and_button() -> None:
    reply = thread_reply(
        "Hi <https://x.example|here> &amp; <@U1|bob>",
        user="UALICE",
        thread_ts="1.1",
        ts="1.2",
        event_id="Ev1",
    )
    [event] = parse(reply)
    assert (event.action, event.text, event.agent_id, event.message_ts) == (
        "reply",
        "Hi here (https://x.example) & bob",
        "UALICE",
        "1.2",
    )
    assert event.event_id == "slack:ev:Ev1"
    assert (event.conversation.thread_id, event.customer.channel) == ("1.1", "slack_thread")
    [command] = parse(
        thread_reply("!resolve", user="UALICE", thread_ts="1.1", ts="1.3", event_id="Ev2")
    )
    assert (command.action, command.text) == ("resolve", "")
    [press] = parse(
        button_press("handoff:claim", user="UBOB", name="bob", card_ts="1.1", action_ts="9.9"),
        form=True,
    )
    assert (press.action, press.agent_name, press.event_id) == (
        "claim",
        "bob",
        "slack:action:1.1:9.9",
    )


def test_top_level_chatter_bots_and_other_buttons_are_not_agent_events() -> None:
    top = json.loads(
        thread_reply("lunch?", user="UALICE", thread_ts="1.1", ts="1.1", event_id="Ev3")
    )
    assert parse(json.dumps(top).encode()) == []
    bot = json.loads(thread_reply("card", user="UBOT1", thread_ts="1.1", ts="1.4", event_id="Ev4"))
    bot["event"]["bot_id"] = "BBOT1"
    assert parse(json.dumps(bot).encode()) == []
    other = button_press("something:else", user="UBOB", name="bob", card_ts="1.1", action_ts="9.8")
    assert parse(other, form=True) == []


def test_card_text_is_escaped_and_buttons_carry_payloads() -> None:
    text, blocks = render_card(
        Card(
            title="Handoff: <!channel> on SMS",
            fields=(CardField(label="Customer", value="<!here> <https://evil|bank>"),),
            text="Summary: <@U123>",
            context="waiting",
            buttons=(Button(title="Claim", payload="handoff:claim"),),
        )
    )
    flat = json.dumps(blocks)
    assert "<!here>" not in flat and "<https://evil" not in flat and "<@U123>" not in flat
    assert "&lt;!here&gt;" in flat
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Handoff: <!channel> on SMS"},
    }
    assert blocks[-1]["elements"][0]["value"] == "handoff:claim"
    assert text == "Handoff: &lt;!channel&gt; on SMS"
    assert plain_text("&lt;b&gt;") == "<b>"
