"""Sending through slack_sdk's AsyncWebClient against a fake Slack Web API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from channels.base import SendError
from channels.slack import SlackChannel
from common.messages import Button, ConversationRef, CustomerRef, OutboundMessage
from tests.support.fake_slack import BOT_USER_ID, FakeSlack, Reply, start_fake_slack

TOKEN = "xoxb-test-token"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN)
    runner = await start_fake_slack(fake)
    yield fake
    await runner.cleanup()


@pytest.fixture
async def slack(fake: FakeSlack) -> AsyncIterator[SlackChannel]:
    channel = SlackChannel(
        bot_token=TOKEN, signing_secret="s", api_base_url=fake.base_url, timeout=5
    )
    await channel.start(_no_sink)
    yield channel
    await channel.close()


async def _no_sink(event: object) -> None:
    raise AssertionError("the Slack adapter pulls no events")


def reply(
    text: str = "Hello", *buttons: Button, thread: str | None = "1596183880.004200"
) -> OutboundMessage:
    return OutboundMessage(
        key="Ev1#0",
        conversation=ConversationRef(channel="slack", chat_id="C111", thread_id=thread),
        customer=CustomerRef(channel="slack", user_id="T111:W111"),
        text=text,
        buttons=buttons,
    )


async def failure(slack: SlackChannel, message: OutboundMessage | None = None) -> SendError:
    with pytest.raises(SendError) as info:
        await slack.send(message or reply())
    return info.value


async def test_start_learns_the_bot_user_with_auth_test(
    fake: FakeSlack, slack: SlackChannel
) -> None:
    assert [c.method for c in fake.calls] == ["auth.test"]
    assert BOT_USER_ID in slack.bot_user_ids


async def test_send_posts_blocks_in_the_thread_and_returns_the_ts(
    fake: FakeSlack, slack: SlackChannel
) -> None:
    ts = await slack.send(reply("Hi <!here>", Button(title="Button", payload="click_me_123")))
    [call] = fake.calls_to("chat.postMessage")
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.headers["Content-Type"].startswith("application/json")
    assert ts == call.answer["ts"]
    body = call.body
    assert body["channel"] == "C111"
    assert body["thread_ts"] == "1596183880.004200"
    assert body["text"] == "Hi &lt;!here&gt;"
    assert body["blocks"][0] == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "Hi &lt;!here&gt;"},
    }
    assert body["blocks"][1]["elements"][0]["value"] == "click_me_123"


async def test_top_level_dm_reply_has_no_thread(fake: FakeSlack, slack: SlackChannel) -> None:
    await slack.send(reply(thread=None))
    [call] = fake.calls_to("chat.postMessage")
    assert "thread_ts" not in call.body


async def test_http_429_is_rate_limited_with_retry_after(
    fake: FakeSlack, slack: SlackChannel
) -> None:
    fake.script = [Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"})]
    error = await failure(slack)
    assert (error.kind, error.retry_after) == ("rate_limited", 7.0)
    assert len(fake.calls_to("chat.postMessage")) == 1  # the SDK did not retry by itself


async def test_ok_false_ratelimited_is_rate_limited(fake: FakeSlack, slack: SlackChannel) -> None:
    fake.script = [Reply(200, {"ok": False, "error": "ratelimited"})]
    error = await failure(slack)
    assert (error.kind, error.retry_after) == ("rate_limited", None)


@pytest.mark.parametrize(
    "answer",
    [
        Reply(500, {"ok": False, "error": "internal_error"}),
        Reply(503, "<html>Service Unavailable</html>", {"Content-Type": "text/html"}),
        Reply(200, {"ok": False, "error": "fatal_error"}),
    ],
    ids=["500-json", "503-html", "fatal_error"],
)
async def test_server_errors_are_transient(
    fake: FakeSlack, slack: SlackChannel, answer: Reply
) -> None:
    fake.script = [answer]
    assert (await failure(slack)).kind == "transient"
    assert len(fake.calls_to("chat.postMessage")) == 1


async def test_dropped_connection_is_transient_and_not_retried_underneath(
    fake: FakeSlack, slack: SlackChannel
) -> None:
    fake.script = [Reply(disconnect=True)]
    assert (await failure(slack)).kind == "transient"
    assert len(fake.calls_to("chat.postMessage")) == 1


async def test_unreachable_slack_is_transient() -> None:
    channel = SlackChannel(
        bot_token=TOKEN, signing_secret="s", api_base_url="http://127.0.0.1:9/api/", timeout=2
    )
    await channel.start(_no_sink)  # auth.test fails: logged, not fatal
    try:
        assert (await failure(channel)).kind == "transient"
    finally:
        await channel.close()


@pytest.mark.parametrize(
    "error",
    ["channel_not_found", "not_in_channel", "is_archived", "account_inactive", "invalid_blocks"],
)
async def test_ok_false_errors_are_permanent(
    fake: FakeSlack, slack: SlackChannel, error: str
) -> None:
    fake.script = [Reply(200, {"ok": False, "error": error})]
    failed = await failure(slack)
    assert failed.kind == "permanent"
    assert error in failed.detail


async def test_wrong_token_is_permanent(fake: FakeSlack) -> None:
    channel = SlackChannel(bot_token="xoxb-revoked", signing_secret="s", api_base_url=fake.base_url)
    await channel.start(_no_sink)
    try:
        failed = await failure(channel)
        assert (failed.kind, "invalid_auth" in failed.detail) == ("permanent", True)
    finally:
        await channel.close()


async def test_a_retried_multi_post_message_resumes_after_the_parts_that_went_out(
    fake: FakeSlack, slack: SlackChannel
) -> None:
    text = " ".join(f"w{n:05d}" for n in range(12000))  # 84,000 characters: 3 posts
    fake.script = [
        Reply(200, {"ok": True, "ts": "1.000001", "channel": "C111"}),
        Reply(500, {"ok": False, "error": "internal_error"}),
    ]
    with pytest.raises(SendError):
        await slack.send(reply(text))
    ts = await slack.send(reply(text))
    bodies = [c.body for c in fake.calls_to("chat.postMessage")]
    assert len(bodies) == 4  # part 1, part 2 failed, part 2 again, part 3
    assert bodies[1]["text"] == bodies[2]["text"] != bodies[0]["text"]
    delivered = [bodies[0], bodies[2], bodies[3]]
    assert " ".join(b["text"] for b in delivered).split() == text.split()
    assert ts == fake.calls_to("chat.postMessage")[-1].answer["ts"]
