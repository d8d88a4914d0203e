"""Parsing Slack's bodies: every stored fixture, and the cases the bot must answer or drop."""

from __future__ import annotations

import json
from typing import Any

import pytest

from channels.base import WebhookRejected, WebhookRequest
from channels.slack import SlackBody, SlackChannel
from common.messages import (
    Attachment,
    ConversationRef,
    CustomerMessage,
    CustomerRef,
    InboundEvent,
)
from tests.support.fake_slack import form_body, payload

HANDOFF = "CAGENTS"


def adapter(handoff: str = HANDOFF) -> SlackChannel:
    return SlackChannel(bot_token="xoxb-test", signing_secret="s", handoff_channel=handoff)


def req(body: bytes, form: bool = False) -> WebhookRequest:
    content_type = "application/x-www-form-urlencoded" if form else "application/json"
    return WebhookRequest(
        method="POST",
        path="/webhooks/slack",
        headers={"content-type": content_type},
        body=body,
    )


def parse(body: bytes, *, form: bool = False, channel: SlackChannel | None = None) -> list[Any]:
    return (channel or adapter()).parse(req(body, form))


def one(body: bytes, **kwargs: Any) -> CustomerMessage:
    [event] = parse(body, **kwargs)
    assert isinstance(event, CustomerMessage)
    return event


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(payload(name))
    return data


def as_dm(name: str, **event: Any) -> bytes:
    """A fixture's message as written in a DM with the app (channel_type im)."""
    data = fixture(name)
    data["event"].update({"channel": "D0DM", "channel_type": "im", **event})
    return json.dumps(data).encode()


# --------------------------------------------------------------------------- fixtures


def test_url_verification_is_no_event_and_answers_the_challenge() -> None:
    body = payload("01_url_verification.json")
    channel = adapter()
    assert channel.parse(req(body)) == []
    ack = channel.acknowledge(req(body), [])
    assert ack.status == 200
    assert ack.content_type == "application/json"
    assert json.loads(ack.body) == {
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    }


def test_plain_channel_message_is_not_a_customer_message() -> None:
    # In channels the bot answers mentions (app_mention); the same post may also arrive as a
    # message.channels event, which must not give a second answer.
    assert parse(payload("02_event_message_channel.json")) == []


def test_channel_message_fixture_in_a_dm_is_a_customer_message() -> None:
    event = one(as_dm("02_event_message_channel.json"))
    assert event.event_id == "slack:ev:Ev111"
    assert event.text == "Hello World!"
    assert event.conversation == ConversationRef(channel="slack", chat_id="D0DM", thread_id=None)
    assert event.customer == CustomerRef(channel="slack", user_id="T111:W111")
    assert event.session_key == "slack:T111:W111"
    assert not event.edited


def test_thread_reply_in_a_channel_without_mention_is_dropped() -> None:
    assert parse(payload("03_event_message_thread_reply.json")) == []


def test_thread_reply_in_a_dm_is_answered_in_its_thread() -> None:
    event = one(as_dm("03_event_message_thread_reply.json"))
    assert event.text == "When Slack was released?"
    assert event.conversation.chat_id == "D0DM"
    assert event.conversation.thread_id == "1726133698.626339"
    assert event.customer.user_id == "T111:W222"


def test_app_mention_strips_the_bot_mention_and_answers_in_a_thread_on_it() -> None:
    event = one(payload("04_event_app_mention.json"))
    assert event.text == "Hi there!"
    assert event.event_id == "slack:ev:Ev111"
    assert event.conversation == ConversationRef(
        channel="slack", chat_id="C111", thread_id="1595926230.009600"
    )
    assert event.customer.user_id == "T111:W222"


def test_app_mention_inside_a_thread_answers_in_that_thread() -> None:
    data = fixture("04_event_app_mention.json")
    data["event"].update(thread_ts="1595926000.000100", text="so <@W111>, what now? <@U999>")
    event = one(json.dumps(data).encode())
    assert event.conversation.thread_id == "1595926000.000100"
    assert event.text == "so , what now? <@U999>"  # only the bot's own mention goes


def test_our_own_bot_message_is_dropped() -> None:
    assert parse(payload("05_event_message_bot_id.json")) == []
    data = fixture("05_event_message_bot_id.json")
    data["event"].update(channel="D0DM", channel_type="im")  # even in a DM
    assert parse(json.dumps(data).encode()) == []


def test_another_apps_bot_message_is_dropped() -> None:
    assert parse(payload("05b_event_message_subtype_bot_message.json")) == []
    assert parse(as_dm("05b_event_message_subtype_bot_message.json")) == []


def test_message_changed_is_an_edit_with_the_new_text() -> None:
    event = one(payload("06_event_message_changed.json"))
    assert event.edited
    assert event.text == "updated message"
    assert event.event_id == "slack:ev:Ev111"
    assert event.customer.user_id == "T111:U111"
    # In a channel the conversation is the thread on the edited message.
    assert event.conversation == ConversationRef(
        channel="slack", chat_id="C111", thread_id="1665102338.901939"
    )


def test_message_changed_in_a_dm_stays_in_the_dm() -> None:
    event = one(as_dm("06_event_message_changed.json"))
    assert event.edited
    assert event.conversation == ConversationRef(channel="slack", chat_id="D0DM", thread_id=None)


def test_message_changed_without_a_new_text_is_not_an_edit() -> None:
    data = fixture("06_event_message_changed.json")
    data["event"]["message"]["text"] = "original message"  # e.g. Slack unfurled a link
    data["event"]["message"]["attachments"] = [{"title": "unfurl"}]
    assert parse(json.dumps(data).encode()) == []


def test_block_actions_form_body_is_a_button_press() -> None:
    event = one(payload("07_block_actions.form.txt"), form=True)
    assert event.button_payload == "click_me_123"
    assert event.event_id == "slack:action:111.222:1596530385.194939"
    assert event.conversation == ConversationRef(channel="slack", chat_id="C111")
    assert event.customer == CustomerRef(
        channel="slack", user_id="T111:W111", display_name="primary-owner"
    )


def test_block_actions_form_fixture_is_the_json_fixture() -> None:
    from_form = one(payload("07_block_actions.form.txt"), form=True)
    from_json = one(form_body(fixture("07_block_actions.payload.json")), form=True)
    assert from_json.event_id == from_form.event_id
    assert from_json.button_payload == from_form.button_payload
    assert from_json.conversation == from_form.conversation


def test_block_actions_in_a_thread_answers_in_the_thread() -> None:
    data = fixture("07_block_actions.payload.json")
    data["container"]["thread_ts"] = "100.001"
    assert one(form_body(data), form=True).conversation.thread_id == "100.001"


@pytest.mark.parametrize(
    ("name", "text", "user", "chat", "event_id"),
    [
        (
            "08_slash_command.form.txt",
            "/hello-world Hi",
            "T111:W111",
            "C111",
            "slack:command:111.111.xxx",
        ),
        (
            "08b_slash_command_docs.form.txt",
            "/webhook-collect",
            "T1DC2JH3J:U2CERLKJA",
            "G8PSS9T3V",
            "slack:command:398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
        ),
    ],
)
def test_slash_command(name: str, text: str, user: str, chat: str, event_id: str) -> None:
    event = one(payload(name), form=True)
    assert event.text == text
    assert event.customer.user_id == user
    assert event.conversation == ConversationRef(channel="slack", chat_id=chat)
    assert event.event_id == event_id


def test_slash_command_ack_is_an_empty_200() -> None:
    body = payload("08_slash_command.form.txt")
    ack = adapter().acknowledge(req(body, form=True), parse(body, form=True))
    assert (ack.status, ack.body) == (200, b"")


def test_slash_command_text_mentioning_payload_is_still_a_command() -> None:
    body = b"team_id=T1&channel_id=C1&user_id=U1&command=%2Forder&text=payload+please&trigger_id=t1"
    assert one(body, form=True).text == "/order payload please"


# --------------------------------------------------------------------------- edge cases


def test_dm_text_is_unescaped_and_files_are_attachments() -> None:
    files = [
        {
            "id": "F1",
            "name": "receipt.png",
            "mimetype": "image/png",
            "url_private": "https://files.slack.com/files-pri/T111-F1/receipt.png",
        },
        {
            "id": "F2",
            "name": "notes.pdf",
            "mimetype": "application/pdf",
            "url_private": "https://files.slack.com/files-pri/T111-F2/notes.pdf",
        },
    ]
    body = as_dm(
        "02_event_message_channel.json", subtype="file_share", text="a &lt; b &amp; c", files=files
    )
    event = one(body)
    assert event.text == "a < b & c"
    assert event.attachments == (
        Attachment(
            kind="image", url=files[0]["url_private"], mime_type="image/png", name="receipt.png"
        ),
        Attachment(
            kind="file", url=files[1]["url_private"], mime_type="application/pdf", name="notes.pdf"
        ),
    )


@pytest.mark.parametrize("subtype", ["message_deleted", "channel_join", "bot_message"])
def test_other_message_subtypes_are_dropped(subtype: str) -> None:
    assert parse(as_dm("02_event_message_channel.json", subtype=subtype)) == []


def test_other_event_types_are_dropped() -> None:
    data = fixture("02_event_message_channel.json")
    data["event"]["type"] = "reaction_added"
    assert parse(json.dumps(data).encode()) == []
    assert parse(json.dumps({"type": "app_rate_limited", "team_id": "T1"}).encode()) == []


def test_messages_of_the_bot_user_learned_from_auth_test_are_dropped() -> None:
    channel = adapter()
    channel.bot_user_ids = frozenset({"W111"})
    assert parse(as_dm("02_event_message_channel.json"), channel=channel) == []


@pytest.mark.parametrize(
    ("body", "form", "chat"),
    [
        (as_dm("02_event_message_channel.json"), False, "D0DM"),
        (payload("04_event_app_mention.json"), False, "C111"),
        (payload("06_event_message_changed.json"), False, "C111"),
        (payload("07_block_actions.form.txt"), True, "C111"),
        (payload("08_slash_command.form.txt"), True, "C111"),
    ],
    ids=["dm", "mention", "edit", "button", "command"],
)
def test_everything_in_the_handoff_channel_is_not_a_customer_conversation(
    body: bytes, form: bool, chat: str
) -> None:
    assert len(parse(body, form=form, channel=adapter(handoff=HANDOFF))) == 1
    assert parse(body, form=form, channel=adapter(handoff=chat)) == []


def test_handoff_events_go_to_the_agent_hook() -> None:
    seen: list[tuple[str, str | None]] = []

    def agent_events(body: SlackBody) -> list[InboundEvent]:
        seen.append((body.kind, body.channel_id))
        return []

    channel = SlackChannel(
        bot_token="x", signing_secret="s", handoff_channel="C111", agent_events=agent_events
    )
    assert parse(payload("04_event_app_mention.json"), channel=channel) == []
    assert parse(payload("07_block_actions.form.txt"), form=True, channel=channel) == []
    assert seen == [("event", "C111"), ("interaction", "C111")]


@pytest.mark.parametrize(
    ("body", "form"),
    [
        (b"{not json", False),
        (b"[1, 2]", False),
        (b'{"token": "x"}', False),
        (b'{"type": "url_verification"}', False),
        (b'{"type": "event_callback", "event_id": "Ev1"}', False),
        (b'{"type": "event_callback", "event": {"type": "app_mention", "channel": "C1"}}', False),
        (b"payload=%7Bnot+json", True),
        (b"payload=%5B%5D", True),
        (b"team_id=T1&user_id=U1", True),
        (b"command=%2Fx&team_id=T1&user_id=U1", True),
        (b"\xff\xfe", True),
    ],
    ids=[
        "not-json",
        "not-object",
        "no-type",
        "no-challenge",
        "no-event",
        "mention-without-event-id",
        "payload-not-json",
        "payload-not-object",
        "unknown-form",
        "command-without-channel",
        "not-utf8",
    ],
)
def test_malformed_bodies_are_400(body: bytes, form: bool) -> None:
    with pytest.raises(WebhookRejected) as info:
        parse(body, form=form)
    assert info.value.status == 400
