"""Rendering for WhatsApp (reply buttons, lists, split text, the 24-hour window) and sending
through a fake Graph API, with Graph's errors classified for the outbox."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from channels.base import SendError
from channels.settings import WhatsAppSettings
from channels.whatsapp import WhatsAppCloudChannel
from common.messages import Attachment, Button, ConversationRef, CustomerRef, OutboundMessage
from tests.support.fake_whatsapp import FakeGraph, graph_error, start_graph

TOKEN = "EAAGtesttoken"
PHONE_ID = "1122334455667"
NUMBER = "+14155238886"


def message(text: str = "hello", **fields: Any) -> OutboundMessage:
    return OutboundMessage(
        key="evt#0",
        conversation=ConversationRef(channel="whatsapp_cloud", chat_id=NUMBER),
        customer=CustomerRef(channel="whatsapp_cloud", user_id=NUMBER, phone=NUMBER),
        text=text,
        **fields,
    )


def buttons(n: int) -> tuple[Button, ...]:
    return tuple(Button(title=f"Option {i}", payload=f"opt_{i}") for i in range(1, n + 1))


def adapter(base_url: str = "http://graph.invalid/v21.0", **settings: Any) -> WhatsAppCloudChannel:
    return WhatsAppCloudChannel.from_settings(
        WhatsAppSettings(
            access_token=TOKEN,
            app_secret="secret",
            verify_token="verify",
            phone_number_id=PHONE_ID,
            api_base_url=base_url,
            **settings,
        ),
        timeout=5,
    )


# --- render ---


def test_plain_text() -> None:
    [body] = adapter().render(message("hi there"))
    assert body["messaging_product"] == "whatsapp"
    assert (body["to"], body["type"], body["text"]["body"]) == ("14155238886", "text", "hi there")


def test_three_buttons_are_reply_buttons_with_the_text_as_body() -> None:
    [body] = adapter().render(message("Pick one", buttons=buttons(3)))
    assert body["type"] == "interactive"
    interactive = body["interactive"]
    assert interactive["type"] == "button"
    assert interactive["body"] == {"text": "Pick one"}
    assert interactive["action"]["buttons"] == [
        {"type": "reply", "reply": {"id": f"opt_{i}", "title": f"Option {i}"}} for i in (1, 2, 3)
    ]


def test_long_button_title_is_cut_to_twenty_characters() -> None:
    long = Button(title="Talk to a human agent please", payload="handoff")
    [body] = adapter().render(message("?", buttons=(long,)))
    [button] = body["interactive"]["action"]["buttons"]
    assert button["reply"]["title"] == "Talk to a human age…"
    assert len(button["reply"]["title"]) == 20
    assert button["reply"]["id"] == "handoff"


def test_five_buttons_are_a_list() -> None:
    [body] = adapter().render(message("Which size?", buttons=buttons(5)))
    interactive = body["interactive"]
    assert interactive["type"] == "list"
    assert interactive["body"] == {"text": "Which size?"}
    assert 1 <= len(interactive["action"]["button"]) <= 20
    [section] = interactive["action"]["sections"]
    assert [(r["id"], r["title"]) for r in section["rows"]] == [
        (f"opt_{i}", f"Option {i}") for i in range(1, 6)
    ]


def test_more_than_ten_buttons_are_numbered_in_the_text() -> None:
    [body] = adapter().render(message("Choose", buttons=buttons(12)))
    assert body["type"] == "text"
    assert "1. Option 1" in body["text"]["body"]
    assert "12. Option 12" in body["text"]["body"]


def test_long_text_is_split_on_word_boundaries_at_4096() -> None:
    words = " ".join(f"word{i}" for i in range(1500))  # 12 389 characters
    bodies = adapter().render(message(words))
    texts = [b["text"]["body"] for b in bodies]
    assert len(texts) == 4
    assert all(len(t) <= 4096 for t in texts)
    assert " ".join(texts) == words  # nothing lost, no word cut


def test_text_too_long_for_a_button_body_goes_first() -> None:
    text = "x " * 700  # 1400 characters: more than a button body may hold
    first, second = adapter().render(message(text, buttons=buttons(2)))
    assert first["type"] == "text" and first["text"]["body"] == text.strip()
    assert second["type"] == "interactive"
    assert len(second["interactive"]["body"]["text"]) <= 1024
    assert len(second["interactive"]["action"]["buttons"]) == 2


def test_attachments_follow_the_text_by_link() -> None:
    files = (
        Attachment(kind="image", url="https://cdn.example/a.jpg"),
        Attachment(kind="file", url="https://cdn.example/b.pdf", name="b.pdf"),
    )
    text, image, document = adapter().render(message("here", attachments=files))
    assert text["type"] == "text"
    assert image["type"] == "image" and image["image"] == {"link": "https://cdn.example/a.jpg"}
    assert document["type"] == "document"
    assert document["document"] == {"link": "https://cdn.example/b.pdf", "filename": "b.pdf"}


def test_payload_too_long_for_a_button_id_is_refused() -> None:
    with pytest.raises(SendError) as exc:
        adapter().render(message("?", buttons=(Button(title="x", payload="p" * 257),)))
    assert exc.value.kind == "permanent"


def test_closed_window_sends_the_template_instead_of_free_text() -> None:
    closed = message("free text", window_closes_at=time.time() - 60, buttons=buttons(2))
    [body] = adapter(template_name="follow_up", template_language="de").render(closed)
    assert body["type"] == "template"
    assert body["template"] == {"name": "follow_up", "language": {"code": "de"}}
    assert "text" not in body and "interactive" not in body


def test_closed_window_without_a_template_is_a_permanent_failure() -> None:
    with pytest.raises(SendError) as exc:
        adapter().render(message("free text", window_closes_at=time.time() - 60))
    assert exc.value.kind == "permanent"
    assert "24-hour window closed" in exc.value.detail


def test_open_window_sends_free_text() -> None:
    [body] = adapter(template_name="follow_up").render(
        message("free text", window_closes_at=time.time() + 3600)
    )
    assert body["type"] == "text"


# --- send, against the fake Graph API ---


@pytest.fixture
async def graph() -> AsyncIterator[tuple[FakeGraph, str]]:
    fake = FakeGraph(access_token=TOKEN)
    runner, url = await start_graph(fake)
    yield fake, url
    await runner.cleanup()


@pytest.fixture
async def started(graph: tuple[FakeGraph, str]) -> AsyncIterator[WhatsAppCloudChannel]:
    channel = adapter(graph[1], template_name="follow_up")
    await channel.start(sink=_no_sink)
    yield channel
    await channel.close()


async def _no_sink(event: object) -> None:
    raise AssertionError("the WhatsApp channel pulls no events")


async def test_send_posts_to_the_phone_numbers_messages_with_the_token(
    graph: tuple[FakeGraph, str], started: WhatsAppCloudChannel
) -> None:
    fake, _ = graph
    wamid = await started.send(message("hello"))
    [call] = fake.calls
    assert call.path == f"/v21.0/{PHONE_ID}/messages"
    assert call.authorization == f"Bearer {TOKEN}"
    assert call.json["text"] == {"body": "hello", "preview_url": False}
    assert wamid == "wamid.fake1"


async def test_closed_window_sends_the_template(
    graph: tuple[FakeGraph, str], started: WhatsAppCloudChannel
) -> None:
    fake, _ = graph
    await started.send(message("late", window_closes_at=time.time() - 1))
    assert [c.json["type"] for c in fake.calls] == ["template"]


@pytest.mark.parametrize(
    ("status", "error", "headers", "kind", "retry_after"),
    [
        (429, graph_error(4, "Request limit reached"), {"Retry-After": "7"}, "rate_limited", 7.0),
        (400, graph_error(131056, "Pair rate limit hit"), {}, "rate_limited", None),
        (400, graph_error(130429, "Rate limit hit"), {}, "rate_limited", None),
        (500, graph_error(1, "An unknown error occurred"), {}, "transient", None),
        (503, None, {}, "transient", None),
        (400, graph_error(131000, "Something went wrong"), {}, "transient", None),
        (400, graph_error(131016, "Service unavailable"), {}, "transient", None),
        (400, graph_error(131047, "Re-engagement message"), {}, "permanent", None),
        (400, graph_error(131026, "Message Undeliverable"), {}, "permanent", None),
        (400, graph_error(100, "Invalid parameter", subcode=2494010), {}, "permanent", None),
        (401, graph_error(190, "Session has expired"), {}, "permanent", None),
    ],
    ids=["429", "pair-rate", "throughput", "500", "503-no-json", "131000", "131016",
         "window-closed", "undeliverable", "invalid-param", "token-expired"],
)  # fmt: skip
async def test_graph_errors_are_classified(
    graph: tuple[FakeGraph, str],
    started: WhatsAppCloudChannel,
    status: int,
    error: dict[str, Any] | None,
    headers: dict[str, str],
    kind: str,
    retry_after: float | None,
) -> None:
    fake, _ = graph
    fake.script = [(status, error, headers)]
    with pytest.raises(SendError) as exc:
        await started.send(message("hello"))
    assert exc.value.kind == kind
    assert exc.value.retry_after == retry_after
    if error is not None:
        assert str(error["error"]["code"]) in exc.value.detail
        assert "AbCdEfGhIjK" in exc.value.detail  # fbtrace_id, for Meta's support
    # The next attempt goes through.
    assert (await started.send(message("hello"))).startswith("wamid.")


async def test_wrong_token_is_permanent(graph: tuple[FakeGraph, str]) -> None:
    _, url = graph
    channel = WhatsAppCloudChannel(
        access_token="EAAwrong",
        app_secret="s",
        verify_token="v",
        phone_number_id=PHONE_ID,
        api_base_url=url,
    )
    await channel.start(sink=_no_sink)
    try:
        with pytest.raises(SendError) as exc:
            await channel.send(message("hello"))
    finally:
        await channel.close()
    assert exc.value.kind == "permanent" and "190" in exc.value.detail


async def test_unreachable_graph_is_transient() -> None:
    channel = adapter("http://127.0.0.1:9/v21.0")  # discard port: connection refused
    await channel.start(sink=_no_sink)
    try:
        with pytest.raises(SendError) as exc:
            await channel.send(message("hello"))
    finally:
        await channel.close()
    assert exc.value.kind == "transient"


async def test_retry_after_a_failed_part_does_not_resend_the_parts_that_went_out(
    graph: tuple[FakeGraph, str], started: WhatsAppCloudChannel
) -> None:
    fake, _ = graph
    fake.script = [(200, None, {}), (500, graph_error(1, "Unknown"), {})]
    long = message("a " * 3000, buttons=buttons(2))  # two text parts, then the buttons
    with pytest.raises(SendError):
        await started.send(long)
    await started.send(long)
    assert [c.status for c in fake.calls] == [200, 500, 200, 200]
    assert [d["type"] for d in fake.delivered] == ["text", "text", "interactive"]
