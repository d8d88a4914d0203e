"""One customer, one session: SMS and WhatsApp from the same number share it."""

from __future__ import annotations

import pytest

from common.identity import session_key_for, to_e164
from common.messages import CustomerRef
from gateway.sessions import Session

# --------------------------------------------------------------------------- to_e164


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+14155238886", "+14155238886"),
        ("+1 415 523 8886", "+14155238886"),
        ("+1 (415) 523-8886", "+14155238886"),
        ("+1.415.523.8886", "+14155238886"),
        ("  +14155238886 ", "+14155238886"),
        ("whatsapp:+14155238886", "+14155238886"),
        ("whatsapp:+44 7911 123456", "+447911123456"),
        ("+44 (0) 7911 123456", "+447911123456"),
    ],
)
def test_to_e164_normalises_formats(raw: str, expected: str) -> None:
    assert to_e164(raw) == expected


def test_to_e164_uses_the_default_region_for_national_numbers() -> None:
    assert to_e164("(415) 523-8886", "US") == "+14155238886"
    assert to_e164("07911 123456", "GB") == "+447911123456"


@pytest.mark.parametrize(
    "raw",
    ["", "hello", "whatsapp:", "+1 23", "4155238886", "+999 12345678", "telegram:123456"],
)
def test_to_e164_rejects_what_is_not_a_phone_number(raw: str) -> None:
    with pytest.raises(ValueError):
        to_e164(raw)


# --------------------------------------------------------------------------- session_key_for


def test_sms_and_whatsapp_from_the_same_number_share_a_session() -> None:
    sms = CustomerRef(channel="sms", user_id="+14155238886", phone="+14155238886")
    whatsapp = CustomerRef(
        channel="whatsapp", user_id="whatsapp:+14155238886", phone="+1 (415) 523-8886"
    )
    assert session_key_for(sms) == session_key_for(whatsapp) == "tel:+14155238886"


def test_phone_is_taken_from_the_user_id_when_not_given() -> None:
    sms = CustomerRef(channel="sms", user_id="+1 415 523 8886")
    whatsapp = CustomerRef(channel="whatsapp", user_id="whatsapp:+14155238886")
    assert session_key_for(sms) == session_key_for(whatsapp) == "tel:+14155238886"


def test_different_numbers_get_different_sessions() -> None:
    first = CustomerRef(channel="sms", user_id="+14155238886", phone="+14155238886")
    second = CustomerRef(channel="sms", user_id="+14155238887", phone="+14155238887")
    other_country = CustomerRef(channel="whatsapp", user_id="wa", phone="+447911123456")
    keys = {session_key_for(first), session_key_for(second), session_key_for(other_country)}
    assert keys == {"tel:+14155238886", "tel:+14155238887", "tel:+447911123456"}


@pytest.mark.parametrize(
    ("channel", "user_id", "expected"),
    [
        ("telegram", "123", "telegram:123"),
        ("slack", "U024BE7LH", "slack:U024BE7LH"),
        ("api", "user-1", "api:user-1"),
    ],
)
def test_other_channels_are_keyed_by_channel_and_user(
    channel: str, user_id: str, expected: str
) -> None:
    assert session_key_for(CustomerRef(channel=channel, user_id=user_id)) == expected


def test_a_phone_known_on_another_channel_does_not_merge_sessions() -> None:
    telegram = CustomerRef(channel="telegram", user_id="123", phone="+14155238886")
    sms = CustomerRef(channel="sms", user_id="+14155238886")
    assert session_key_for(telegram) == "telegram:123"
    assert session_key_for(telegram) != session_key_for(sms)


def test_same_user_id_on_two_non_phone_channels_are_different_customers() -> None:
    telegram = CustomerRef(channel="telegram", user_id="42")
    api = CustomerRef(channel="api", user_id="42")
    assert session_key_for(telegram) != session_key_for(api)


def test_sms_sender_that_is_not_a_number_falls_back_to_channel_key() -> None:
    # Alphanumeric sender ids and short codes cannot be normalised.
    assert session_key_for(CustomerRef(channel="sms", user_id="ACME")) == "sms:ACME"


# --------------------------------------------------------------------------- Session.seen_on


def test_seen_on_records_channels_in_first_use_order_and_names_per_channel() -> None:
    session = Session(key="tel:+14155238886")
    session = session.seen_on("sms", None)
    session = session.seen_on("whatsapp", "Ada L.")
    session = session.seen_on("sms", None)
    assert session.channels == ("sms", "whatsapp")
    assert session.names == {"whatsapp": "Ada L."}


def test_seen_on_updates_a_changed_display_name_only_for_that_channel() -> None:
    session = Session(key="tel:+14155238886").seen_on("whatsapp", "Ada").seen_on("sms", "Ada SMS")
    renamed = session.seen_on("whatsapp", "Ada Lovelace")
    assert renamed.names == {"whatsapp": "Ada Lovelace", "sms": "Ada SMS"}
    assert renamed.channels == ("whatsapp", "sms")
    # The earlier session value is not changed behind the caller's back.
    assert session.names == {"whatsapp": "Ada", "sms": "Ada SMS"}


def test_seen_on_without_a_name_keeps_the_known_name() -> None:
    session = Session(key="telegram:1").seen_on("telegram", "Bob")
    assert session.seen_on("telegram", None).names == {"telegram": "Bob"}
    assert session.seen_on("telegram", "").names == {"telegram": "Bob"}


def test_seen_on_with_nothing_new_returns_the_same_session() -> None:
    session = Session(key="telegram:1").seen_on("telegram", "Bob")
    assert session.seen_on("telegram", "Bob") is session
    assert session.seen_on("telegram", None) is session
