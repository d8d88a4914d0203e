"""Slack request verification: Slack's signed fixtures, with the verifier's clock injected."""

from __future__ import annotations

import json

import pytest

from channels.base import WebhookRejected, WebhookRequest
from channels.slack import SlackChannel
from tests.support.fake_slack import (
    FIXTURE_SECRET,
    FIXTURE_TIME,
    fixture_headers,
    payload,
    signed_headers,
)

KINDS = {
    "events-json": "02_event_message_channel.json",
    "interactivity-form": "07_block_actions.form.txt",
    "slash-command-form": "08_slash_command.form.txt",
}


def channel(now: float = FIXTURE_TIME + 10, secret: str = FIXTURE_SECRET) -> SlackChannel:
    return SlackChannel(bot_token="xoxb-test", signing_secret=secret, clock=lambda: now)


def request(body: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest(
        method="POST",
        path="/webhooks/slack",
        headers={k.lower(): v for k, v in headers.items()},
        body=body,
    )


def rejection(adapter: SlackChannel, body: bytes, headers: dict[str, str]) -> int | None:
    try:
        adapter.verify(request(body, headers))
    except WebhookRejected as exc:
        return exc.status
    return None


@pytest.mark.parametrize("name", list(KINDS.values()), ids=list(KINDS))
def test_signed_fixture_is_accepted(name: str) -> None:
    assert rejection(channel(), payload(name), fixture_headers(name)) is None


@pytest.mark.parametrize("name", list(KINDS.values()), ids=list(KINDS))
@pytest.mark.parametrize("drop", ["X-Slack-Signature", "X-Slack-Request-Timestamp"])
def test_missing_signature_header_is_401(name: str, drop: str) -> None:
    headers = {k: v for k, v in fixture_headers(name).items() if k != drop}
    assert rejection(channel(), payload(name), headers) == 401


@pytest.mark.parametrize("name", list(KINDS.values()), ids=list(KINDS))
def test_bad_signature_is_403(name: str) -> None:
    headers = fixture_headers(name)
    headers["X-Slack-Signature"] = "v0=" + "0" * 64
    assert rejection(channel(), payload(name), headers) == 403
    assert rejection(channel(), payload(name) + b" ", fixture_headers(name)) == 403  # tampered
    assert rejection(channel(secret="another-secret"), payload(name), fixture_headers(name)) == 403


@pytest.mark.parametrize("name", list(KINDS.values()), ids=list(KINDS))
@pytest.mark.parametrize("offset", [301, -301, 3600])
def test_stale_timestamp_is_403(name: str, offset: int) -> None:
    assert rejection(channel(FIXTURE_TIME + offset), payload(name), fixture_headers(name)) == 403


def test_window_edge_is_five_minutes() -> None:
    name = KINDS["events-json"]
    assert rejection(channel(FIXTURE_TIME + 300), payload(name), fixture_headers(name)) is None
    assert rejection(channel(FIXTURE_TIME - 300), payload(name), fixture_headers(name)) is None


def test_non_numeric_timestamp_is_403() -> None:
    body = payload(KINDS["events-json"])
    headers = signed_headers(body, FIXTURE_SECRET, timestamp=FIXTURE_TIME)
    headers["X-Slack-Request-Timestamp"] = "soon"
    assert rejection(channel(), body, headers) == 403


def test_slack_documentation_test_vector() -> None:
    vector = json.loads(payload("09_signing_test_vector.json"))
    adapter = channel(now=int(vector["timestamp"]) + 1, secret=vector["signing_secret"])
    body = payload("08b_slash_command_docs.form.txt")
    assert body.decode() == vector["body"]
    headers = {
        "X-Slack-Request-Timestamp": vector["timestamp"],
        "X-Slack-Signature": vector["valid_signature"],
    }
    assert rejection(adapter, body, headers) is None


def test_fresh_signature_from_the_sdk_signer_with_the_real_clock() -> None:
    adapter = SlackChannel(bot_token="xoxb-test", signing_secret="s3cret")
    body = payload(KINDS["events-json"])
    assert rejection(adapter, body, signed_headers(body, "s3cret")) is None
    assert rejection(adapter, body, signed_headers(body, "s3cret", timestamp=FIXTURE_TIME)) == 403


def test_unsigned_ssl_check_is_accepted_but_nothing_else_unsigned() -> None:
    adapter = channel()
    ssl_check = b"ssl_check=1&token=verification_token"
    assert rejection(adapter, ssl_check, {}) is None
    assert adapter.parse(request(ssl_check, {})) == []
    smuggled = ssl_check + b"&command=%2Fhello&user_id=U1&channel_id=C1&trigger_id=t"
    assert rejection(adapter, smuggled, {}) == 401
