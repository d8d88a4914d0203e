"""Telegram rendering and sending through python-telegram-bot against the fake Bot API."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from channels.base import SendError
from channels.telegram import TelegramChannel
from channels.telegram.render import callback_data, text_parts, utf16_len
from common.messages import Attachment, Button, ConversationRef, CustomerRef, OutboundMessage
from tests.support.fake_telegram import (
    FakeTelegram,
    blocked,
    chat_not_found,
    flood_wait,
    server_error,
    start_fake_telegram,
)

PAYLOADS = Path(__file__).parent.parent / "payloads" / "telegram"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram()
    runner = await start_fake_telegram(fake)
    yield fake
    await runner.cleanup()


@pytest.fixture
async def channel(fake: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    channel = TelegramChannel(
        token=fake.token, secret_token="s", api_base_url=fake.base_url, timeout=5.0
    )

    async def sink(event: object) -> None:
        raise AssertionError("webhook mode feeds nothing itself")

    await channel.start(sink)
    yield channel
    await channel.close()


def outbound(
    text: str = "hello",
    *,
    key: str = "tg:1#0",
    chat: str = "1111111",
    thread: str | None = None,
    buttons: tuple[Button, ...] = (),
    attachments: tuple[Attachment, ...] = (),
    interaction: str | None = None,
) -> OutboundMessage:
    return OutboundMessage(
        key=key,
        conversation=ConversationRef(channel="telegram", chat_id=chat, thread_id=thread),
        customer=CustomerRef(channel="telegram", user_id="1111111"),
        text=text,
        buttons=buttons,
        attachments=attachments,
        interaction_id=interaction,
    )


# --------------------------------------------------------------------------- render


def test_long_text_is_split_on_word_boundaries_within_4096() -> None:
    text = " ".join(f"word{i}" for i in range(1200))  # 9,689 characters
    parts = text_parts(text)
    assert len(parts) == 3
    assert all(len(p) <= 4096 for p in parts)
    assert " ".join(parts) == text  # nothing lost, no word cut


def test_emoji_count_double_towards_the_limit() -> None:
    text = " ".join(["😀😀😀"] * 1500)  # 6,000 characters, 10,500 UTF-16 units
    parts = text_parts(text)
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert " ".join(parts) == text


def test_callback_data_is_the_payload_unless_telegram_would_refuse_it() -> None:
    assert callback_data("answer:yes") == "answer:yes"
    long = "order:" + "x" * 100
    hashed = callback_data(long)
    assert hashed.startswith("~h:") and len(hashed.encode()) <= 64
    assert callback_data(long) == hashed  # stable
    assert callback_data("é" * 33).startswith("~h:")  # 66 bytes
    assert callback_data("").startswith("~h:")


# --------------------------------------------------------------------------- send


async def test_getme_at_start_identifies_the_bot(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    assert channel.identity is not None
    assert (channel.identity.id, channel.identity.username) == (123456789, "test_bot")
    assert [c.method for c in fake.calls] == ["getMe"]


async def test_text_with_buttons_is_one_message_with_an_inline_keyboard(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    buttons = (Button(title="Yes", payload="answer:yes"), Button(title="No", payload="answer:no"))
    message_id = await channel.send(outbound("Pick one", buttons=buttons))
    [call] = fake.of("sendMessage")
    assert message_id == str(fake._next_message_id)
    assert call.params["chat_id"] == "1111111"
    assert call.params["text"] == "Pick one"
    assert call.json("reply_markup") == {
        "inline_keyboard": [
            [{"text": "Yes", "callback_data": "answer:yes"}],
            [{"text": "No", "callback_data": "answer:no"}],
        ]
    }


async def test_long_text_goes_in_parts_with_buttons_on_the_last(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    text = " ".join(f"word{i}" for i in range(1200))
    await channel.send(outbound(text, buttons=(Button(title="More", payload="more"),)))
    calls = fake.of("sendMessage")
    assert len(calls) == 3
    assert " ".join(c.params["text"] for c in calls) == text
    assert ["reply_markup" in c.params for c in calls] == [False, False, True]


async def test_reply_in_a_forum_topic_names_the_topic(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    await channel.send(outbound("in the topic", chat="-1001065170817", thread="5001"))
    [call] = fake.of("sendMessage")
    assert (call.params["chat_id"], call.params["message_thread_id"]) == ("-1001065170817", "5001")


async def test_button_press_is_answered_before_the_reply(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    await channel.send(outbound("you said yes", interaction="4382bfdwdsb323b2d9"))
    methods = [c.method for c in fake.calls if c.method != "getMe"]
    assert methods == ["answerCallbackQuery", "sendMessage"]
    assert fake.of("answerCallbackQuery")[0].params["callback_query_id"] == "4382bfdwdsb323b2d9"


async def test_a_failed_answer_does_not_block_the_reply(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    too_old = (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: query is too old"},
    )
    fake.script["answerCallbackQuery"] = [too_old]
    await channel.send(outbound("still answered", interaction="old-query"))
    assert [c.params["text"] for c in fake.of("sendMessage")] == ["still answered"]


async def test_long_payload_round_trips_through_the_button(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    payload = "choose:" + "plan-enterprise-annual-with-support-" * 3
    await channel.send(outbound("Plans", buttons=(Button(title="Enterprise", payload=payload),)))
    [[button]] = fake.of("sendMessage")[0].json("reply_markup")["inline_keyboard"]
    assert len(button["callback_data"].encode()) <= 64
    press = json.loads((PAYLOADS / "03_callback_query.json").read_text())
    press["callback_query"]["data"] = button["callback_data"]
    press["callback_query"]["message"]["reply_markup"] = {"inline_keyboard": [[button]]}
    [event] = channel.parse_update(press)
    assert event.button_payload == payload  # type: ignore[union-attr]
    # Another process never saw the payload: the pressed button's title stands in for it.
    elsewhere = TelegramChannel(token="1:x", secret_token="s")
    [event] = elsewhere.parse_update(copy.deepcopy(press))
    assert (event.text, event.button_payload) == ("Enterprise", None)  # type: ignore[union-attr]


async def test_attachments_go_by_file_id_or_url(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    attachments = (
        Attachment(kind="image", url="tg-file:AgADBAAD"),
        Attachment(kind="file", url="https://example.com/invoice.pdf"),
    )
    await channel.send(outbound("here you are", attachments=attachments))
    sent = [c.method for c in fake.calls if c.method != "getMe"]
    assert sent == ["sendPhoto", "sendDocument", "sendMessage"]
    assert fake.of("sendPhoto")[0].params["photo"] == "AgADBAAD"
    assert fake.of("sendDocument")[0].params["document"] == "https://example.com/invoice.pdf"


async def test_file_url_resolves_an_attachment_through_getfile(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    url = await channel.file_url("tg-file:AgADBAAD")
    assert url == f"{fake.base_url}/file/bot{fake.token}/photos/AgADBAAD.jpg"


# --------------------------------------------------------------------------- errors


async def test_flood_wait_is_rate_limited_with_telegrams_wait(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    fake.script["sendMessage"] = [flood_wait(7)]
    with pytest.raises(SendError) as caught:
        await channel.send(outbound())
    assert (caught.value.kind, caught.value.retry_after) == ("rate_limited", 7.0)


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_transient(
    fake: FakeTelegram, channel: TelegramChannel, status: int
) -> None:
    fake.script["sendMessage"] = [server_error(status)]
    with pytest.raises(SendError) as caught:
        await channel.send(outbound())
    assert caught.value.kind == "transient"
    await channel.send(outbound())  # and the retry goes through
    assert len(fake.of("sendMessage")) == 1


@pytest.mark.parametrize(
    ("answer", "reason"),
    [(blocked(), "bot was blocked by the user"), (chat_not_found(), "chat not found")],
    ids=["blocked", "chat-not-found"],
)
async def test_blocked_or_unknown_chat_is_permanent(
    fake: FakeTelegram, channel: TelegramChannel, answer: Any, reason: str
) -> None:
    fake.script["sendMessage"] = [answer]
    with pytest.raises(SendError) as caught:
        await channel.send(outbound())
    assert caught.value.kind == "permanent"
    assert reason in caught.value.detail.lower()


async def test_timeout_is_transient(fake: FakeTelegram) -> None:
    channel = TelegramChannel(
        token=fake.token, secret_token="s", api_base_url=fake.base_url, timeout=0.2
    )
    fake.delay["sendMessage"] = 1.0
    try:
        with pytest.raises(SendError) as caught:
            await channel.send(outbound())
        assert caught.value.kind == "transient"
        assert "TimedOut" in caught.value.detail
    finally:
        await channel.close()


async def test_unreachable_api_is_transient() -> None:
    channel = TelegramChannel(token="1:x", secret_token="s", api_base_url="http://127.0.0.1:9")
    try:
        with pytest.raises(SendError) as caught:
            await channel.send(outbound())
        assert caught.value.kind == "transient"
    finally:
        await channel.close()


async def test_a_retried_long_message_resumes_after_the_parts_already_sent(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    text = " ".join(f"word{i}" for i in range(1200))
    fake.script["sendMessage"] = [(200, None), server_error(500)]  # part 2 fails once
    with pytest.raises(SendError):
        await channel.send(outbound(text))
    await channel.send(outbound(text))
    texts = [c.params["text"] for c in fake.of("sendMessage")]
    assert len(texts) == 3  # part 1 was not sent twice
    assert " ".join(texts) == text
