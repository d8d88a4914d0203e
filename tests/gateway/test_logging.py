"""Logs never carry a customer's phone number or a credential in the clear."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from common.logging import configure_logging, get_logger, mask_text

PHONE = "+14155238886"
TELEGRAM_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"  # 35 chars after the colon
SLACK_TOKEN = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
TWILIO_SID = "AC" + "0123456789abcdef" * 2


@pytest.fixture
def reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def log_lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


# --------------------------------------------------------------------------- mask_text


@pytest.mark.parametrize(
    "number",
    [PHONE, "+447911123456", "+1 415 523 8886", "+1 (415) 523-8886", "+33 6 12 34 56 78"],
)
def test_international_numbers_are_masked(number: str) -> None:
    masked = mask_text(f"reply sent to {number} ok")
    digits = "".join(ch for ch in number if ch.isdigit())
    assert "".join(ch for ch in masked if ch.isdigit()) != digits
    assert number not in masked
    assert masked.startswith("reply sent to +")
    assert masked.endswith(f"{digits[-2:]} ok")  # the last two digits stay, to tell them apart
    assert "******" in masked


def test_masked_number_keeps_only_a_short_prefix_and_suffix() -> None:
    assert mask_text(PHONE) == "+141******86"


def test_whatsapp_address_is_masked() -> None:
    masked = mask_text(f"inbound from whatsapp:{PHONE}")
    assert masked == "inbound from whatsapp:+141******86"


def test_several_numbers_in_one_text_are_all_masked() -> None:
    masked = mask_text("+14155238886,+447911123456")
    assert "4155238" not in masked
    assert "7911123" not in masked


def test_slack_bot_token_is_masked() -> None:
    masked = mask_text(f"auth failed for {SLACK_TOKEN}")
    assert "pdFZKVeTuE8sk7oOcBrzbqgy" not in masked
    assert "17653672481" not in masked
    assert masked.startswith("auth failed for ")


def test_telegram_bot_token_is_masked() -> None:
    masked = mask_text(f"token {TELEGRAM_TOKEN} rejected")
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0" not in masked
    assert "123456789" not in masked
    assert masked.startswith("token ") and masked.endswith(" rejected")


def test_telegram_bot_token_inside_an_api_url_is_masked() -> None:
    # HTTP client errors quote the request URL, and Telegram puts the token in the path.
    url = f"https://api.telegram.org/bot{TELEGRAM_TOKEN}/sendMessage"
    masked = mask_text(f"400, message='Bad Request', url='{url}'")
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0" not in masked
    assert "https://api.telegram.org/bot" in masked
    assert masked.endswith("/sendMessage'")


def test_bearer_credentials_are_masked() -> None:
    masked = mask_text("Authorization: Bearer EAAGm0PX4ZCpsBAKZCZBZA.abc-def_1234")
    assert "EAAGm0PX4ZCpsBAKZCZBZA" not in masked
    assert "abc-def_1234" not in masked
    assert masked.startswith("Authorization: Bearer ")


def test_twilio_account_sid_is_masked() -> None:
    masked = mask_text(f"POST /2010-04-01/Accounts/{TWILIO_SID}/Messages.json")
    assert TWILIO_SID not in masked
    assert "0123456789abcdef" not in masked
    assert masked.startswith("POST /2010-04-01/Accounts/AC")
    assert masked.endswith("/Messages.json")


@pytest.mark.parametrize(
    "text",
    [
        "Hello! Where is my order?",
        "order 12345678 shipped",
        "your order #12345678 costs $12.50",
        "delivered on 2024-05-01 at 14:30",
        "version 1.2.3 of the app, +12 more",
        "conversation_id=telegram:987654321",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert mask_text(text) == text


# --------------------------------------------------------------------------- log output


def test_log_line_is_json_with_number_and_token_masked(
    capsys: pytest.CaptureFixture[str], reset_structlog: None
) -> None:
    configure_logging("info", "json")
    log = get_logger(channel="whatsapp", conversation_id=f"tel:{PHONE}")
    log.info(f"message from whatsapp:{PHONE}", token=TELEGRAM_TOKEN, order="12345678")

    out, err = capsys.readouterr()
    assert out == ""
    assert PHONE not in err
    assert "4155238886" not in err
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0" not in err
    [line] = log_lines(err)
    assert line["level"] == "info"
    assert line["channel"] == "whatsapp"
    assert line["event"] == "message from whatsapp:+141******86"
    assert line["conversation_id"] == "tel:+141******86"
    assert line["token"] == "***"
    assert line["order"] == "12345678"
    assert "timestamp" in line


def test_secret_fields_nested_in_structures_are_masked(
    capsys: pytest.CaptureFixture[str], reset_structlog: None
) -> None:
    configure_logging("info", "json")
    get_logger().info(
        "request",
        headers={"Authorization": "Bearer abcdefghijklmnop", "Content-Type": "application/json"},
        recipients=[PHONE, "+447911123456"],
        auth_token="twilio-auth-token-value",
    )
    _, err = capsys.readouterr()
    assert "abcdefghijklmnop" not in err
    assert "twilio-auth-token-value" not in err
    assert "4155238886" not in err and "7911123456" not in err
    [line] = log_lines(err)
    assert line["headers"] == {"Authorization": "***", "Content-Type": "application/json"}
    assert line["auth_token"] == "***"
    assert line["recipients"] == ["+141******86", "+447******56"]


def test_debug_messages_are_dropped_at_info_level(
    capsys: pytest.CaptureFixture[str], reset_structlog: None
) -> None:
    configure_logging("info", "json")
    log = get_logger(channel="sms")
    log.debug("message body", text="hi there")
    log.info("sent")
    _, err = capsys.readouterr()
    assert [line["event"] for line in log_lines(err)] == ["sent"]
    assert "hi there" not in err


def test_debug_messages_appear_at_debug_level(
    capsys: pytest.CaptureFixture[str], reset_structlog: None
) -> None:
    configure_logging("debug", "json")
    get_logger().debug("message body", text="hi there")
    _, err = capsys.readouterr()
    [line] = log_lines(err)
    assert line["event"] == "message body"
    assert line["level"] == "debug"
    assert line["text"] == "hi there"


def test_console_format_is_masked_too(
    capsys: pytest.CaptureFixture[str], reset_structlog: None
) -> None:
    configure_logging("warning", "console")
    get_logger().warning("send failed", to=PHONE, bot_token=SLACK_TOKEN)
    get_logger().info("not shown")
    _, err = capsys.readouterr()
    assert "send failed" in err
    assert "not shown" not in err
    assert "4155238886" not in err
    assert "pdFZKVeTuE8sk7oOcBrzbqgy" not in err
