"""Telegram webhook verification and parsing of every fixture (pure: no network)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from channels.base import WebhookRejected, WebhookRequest
from channels.telegram import SECRET_HEADER, BotIdentity, TelegramChannel
from channels.telegram.parse import BotIdentityUnknown
from common.messages import Attachment, CustomerMessage, Location

PAYLOADS = Path(__file__).parent.parent / "payloads" / "telegram"
SECRET = "test_secret_token-123"
BOT = BotIdentity(id=123456789, username="test_bot")


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    return data


def channel(identity: BotIdentity | None = BOT) -> TelegramChannel:
    return TelegramChannel(
        token="1:x", secret_token=SECRET, api_base_url="http://127.0.0.1:9", bot_identity=identity
    )


def request(body: bytes | dict[str, Any], headers: dict[str, str] | None = None) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    given = {SECRET_HEADER: SECRET} if headers is None else headers
    return WebhookRequest(
        method="POST",
        path="/webhooks/telegram",
        headers={k.lower(): v for k, v in given.items()},
        body=raw,
    )


def parse(update: dict[str, Any], identity: BotIdentity | None = BOT) -> list[CustomerMessage]:
    events = channel(identity).parse(request(update))
    assert all(isinstance(e, CustomerMessage) for e in events)
    return events  # type: ignore[return-value]


def only(update: dict[str, Any]) -> CustomerMessage:
    [event] = parse(update)
    return event


# --------------------------------------------------------------------------- verify


def test_the_right_secret_token_is_accepted() -> None:
    channel().verify(request(fixture("01_text_message.json")))


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({SECRET_HEADER: "wrong"}, 403), ({SECRET_HEADER: ""}, 403)],
    ids=["missing", "wrong", "empty"],
)
def test_missing_or_wrong_secret_token_is_refused(headers: dict[str, str], status: int) -> None:
    with pytest.raises(WebhookRejected) as caught:
        channel().verify(request(fixture("01_text_message.json"), headers))
    assert caught.value.status == status


def test_without_a_configured_secret_nothing_is_accepted() -> None:
    open_channel = TelegramChannel(token="1:x", secret_token="", bot_identity=BOT)
    with pytest.raises(WebhookRejected) as caught:
        open_channel.verify(request(fixture("01_text_message.json"), {SECRET_HEADER: ""}))
    assert caught.value.status == 403


def test_polling_mode_serves_no_webhook_route() -> None:
    assert [r.path for r in channel().routes()] == ["/webhooks/telegram"]
    polling = TelegramChannel(token="1:x", mode="polling")
    assert list(polling.routes()) == []


# --------------------------------------------------------------------------- fixtures


@pytest.mark.parametrize("name", ["01_text_message.json", "01_text_message.docs.json"])
def test_start_command_with_and_without_is_bot(name: str) -> None:
    event = only(fixture(name))
    assert event.event_id == "tg:10000"
    assert event.text == "/start"
    assert event.button_payload is None
    assert (event.conversation.channel, event.conversation.chat_id) == ("telegram", "1111111")
    assert event.conversation.thread_id is None
    assert event.customer.user_id == "1111111"
    assert event.customer.display_name == "Test Firstname Test Lastname"
    assert event.session_key == "telegram:1111111"
    assert not event.edited


def test_plain_text() -> None:
    event = only(fixture("01b_text_message_plain.json"))
    assert (event.event_id, event.text) == ("tg:10001", "What is my account balance?")


def test_photo_is_the_largest_size_with_its_caption() -> None:
    event = only(fixture("02_photo_message.json"))
    assert event.text == "photo description"
    assert event.attachments == (
        Attachment(
            kind="image",
            url="tg-file:AgADBAADFak0G88YZAf8OAug7bHyS9x2ZxkABHVfpJywcloRAAGAAQABAg",
            mime_type="image/jpeg",
        ),
    )


def test_button_press_carries_payload_and_the_query_to_answer() -> None:
    event = only(fixture("03_callback_query.json"))
    assert event.event_id == "tg:10003"
    assert event.button_payload == "answer:yes"
    assert event.interaction_id == "4382bfdwdsb323b2d9"
    assert event.conversation.chat_id == "1111111"
    assert event.customer.user_id == "1111111"  # who pressed, not the bot that wrote


def test_button_on_an_inline_message_is_answered_in_the_private_chat() -> None:
    # Telegram's doc example: no message, no chat_instance, a stray "type" inside "from".
    event = only(fixture("03_callback_query_inline.docs.json"))
    assert event.button_payload == "Data from button callback"
    assert event.interaction_id == "4382bfdwdsb323b2d9"
    assert event.conversation.chat_id == "1111111"


@pytest.mark.parametrize("name", ["04_edited_message.json", "04_edited_message.docs.json"])
def test_edits_are_recorded_as_edits(name: str) -> None:
    event = only(fixture(name))
    assert event.edited is True
    assert event.text == "Edited text"


def test_group_message_mentioning_the_bot_loses_the_mention() -> None:
    event = only(fixture("05_group_message_mention.json"))
    assert event.event_id == "tg:10005"
    assert event.text == "what is my balance?"
    assert event.conversation.chat_id == "-28767330"
    assert event.customer.user_id == "1111111"


def test_supergroup_topic_command_answers_in_the_topic() -> None:
    event = only(fixture("05b_supergroup_command_topic.json"))
    assert event.text == "/help"
    assert event.conversation.chat_id == "-1001065170817"
    assert event.conversation.thread_id == "5001"


# --------------------------------------------------------------------------- groups


def group_text(text: str, entities: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    update = copy.deepcopy(fixture("05_group_message_mention.json"))
    update["message"]["text"] = text
    update["message"]["entities"] = entities or []
    return update


def test_group_message_not_for_the_bot_is_dropped() -> None:
    assert parse(group_text("lunch anyone?")) == []


def test_group_mention_of_another_bot_or_command_for_another_bot_is_dropped() -> None:
    other = [{"type": "mention", "offset": 0, "length": 10}]
    assert parse(group_text("@other_bot hi", other)) == []
    command = [{"type": "bot_command", "offset": 0, "length": 15}]
    assert parse(group_text("/help@other_bot", command)) == []


def test_group_reply_to_the_bot_is_for_the_bot() -> None:
    update = group_text("yes please")
    update["message"]["reply_to_message"] = {
        "message_id": 70,
        "from": {"id": BOT.id, "is_bot": True, "first_name": "TestBot"},
        "chat": update["message"]["chat"],
        "date": 1441645600,
        "text": "Shall I?",
    }
    assert only(update).text == "yes please"


def test_mention_offsets_count_utf16_units() -> None:
    # "😀" is two UTF-16 code units: the mention starts at offset 3, not 2.
    update = group_text("😀 @test_bot hi", [{"type": "mention", "offset": 3, "length": 9}])
    assert only(update).text == "😀 hi"


def test_text_mention_of_the_bot_counts() -> None:
    entity = {"type": "text_mention", "offset": 0, "length": 7, "user": {"id": BOT.id}}
    assert only(group_text("TestBot help", [entity])).text == "TestBot help"


def test_group_message_before_getme_is_retried_not_lost() -> None:
    with pytest.raises(BotIdentityUnknown):
        parse(fixture("05_group_message_mention.json"), identity=None)
    assert only(fixture("01b_text_message_plain.json")).text  # private chats need no identity


# --------------------------------------------------------------------------- other content


def private(**fields: Any) -> dict[str, Any]:
    update = copy.deepcopy(fixture("01b_text_message_plain.json"))
    del update["message"]["text"]
    update["message"].update(fields)
    return update


def test_deep_link_payload_reaches_the_dialog_as_button_payload() -> None:
    event = only(private(text="/start order-42"))
    assert (event.text, event.button_payload) == ("/start", "order-42")


def test_location_and_venue() -> None:
    event = only(private(location={"latitude": 52.52, "longitude": 13.405}))
    assert event.location == Location(latitude=52.52, longitude=13.405)
    venue = {
        "location": {"latitude": 48.8584, "longitude": 2.2945},
        "title": "Eiffel Tower",
        "address": "Champ de Mars",
    }
    event = only(private(venue=venue, location=venue["location"]))
    assert event.location == Location(
        latitude=48.8584, longitude=2.2945, name="Eiffel Tower", address="Champ de Mars"
    )


def test_voice_document_audio_and_video_are_attachments() -> None:
    voice = {"file_id": "VOICE", "file_unique_id": "v", "duration": 3, "mime_type": "audio/ogg"}
    doc = {
        "file_id": "DOC",
        "file_unique_id": "d",
        "file_name": "invoice.pdf",
        "mime_type": "application/pdf",
    }
    audio = {"file_id": "AUD", "file_unique_id": "a", "duration": 9, "mime_type": "audio/mpeg"}
    video = {"file_id": "VID", "file_unique_id": "x", "width": 1, "height": 1, "duration": 1}
    assert only(private(voice=voice)).attachments == (
        Attachment(kind="audio", url="tg-file:VOICE", mime_type="audio/ogg"),
    )
    event = only(private(document=doc, caption="my invoice"))
    assert event.text == "my invoice"
    assert event.attachments == (
        Attachment(kind="file", url="tg-file:DOC", mime_type="application/pdf", name="invoice.pdf"),
    )
    assert only(private(audio=audio)).attachments[0].kind == "audio"
    assert only(private(video=video)).attachments == (Attachment(kind="video", url="tg-file:VID"),)


def test_messages_from_bots_service_messages_and_other_updates_are_dropped() -> None:
    from_bot = copy.deepcopy(fixture("01b_text_message_plain.json"))
    from_bot["message"]["from"]["is_bot"] = True
    assert parse(from_bot) == []
    joined = private(new_chat_members=[{"id": 5, "is_bot": False, "first_name": "Ann"}])
    assert parse(joined) == []
    post = {"update_id": 9, "channel_post": {"message_id": 1, "date": 1, "text": "news"}}
    assert parse(post) == []


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"message": {}}',
        b'{"update_id": "7"}',
        b'{"update_id": 7, "message": 5}',
    ],
    ids=["not-json", "not-object", "no-update-id", "string-update-id", "message-not-object"],
)
def test_malformed_bodies_are_rejected_with_400(body: bytes) -> None:
    with pytest.raises(WebhookRejected) as caught:
        channel().parse(request(body))
    assert caught.value.status == 400
