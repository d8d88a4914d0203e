"""The message types refuse values that could not cross the queue (issue 16): a location off
the globe or not finite, text that is not valid Unicode."""

from __future__ import annotations

import pytest

from common.messages import (
    ConversationRef,
    CustomerMessage,
    CustomerRef,
    InvalidMessage,
    Location,
    decode_event,
    encode_event,
)


def message(**changes: object) -> CustomerMessage:
    fields: dict[str, object] = {
        "event_id": "e1",
        "conversation": ConversationRef(channel="api", chat_id="c1"),
        "customer": CustomerRef(channel="api", user_id="u1"),
        **changes,
    }
    return CustomerMessage(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "latitude, longitude",
    [
        (float("inf"), 0.0),
        (float("nan"), 0.0),
        (0.0, float("-inf")),
        (10**400, 0.0),
        (90.5, 0.0),
        (0.0, 180.01),
        ("48.85", 2.35),
        (True, 2.35),
    ],
)
def test_a_location_must_be_finite_and_on_the_globe(latitude: object, longitude: object) -> None:
    with pytest.raises(InvalidMessage):
        Location(latitude=latitude, longitude=longitude)  # type: ignore[arg-type]


def test_a_valid_location_round_trips_through_the_queue() -> None:
    event = message(location=Location(latitude=-90, longitude=180, name="Pôle"))
    assert decode_event(encode_event(event)) == event


@pytest.mark.parametrize("field", ["text", "button_payload", "event_id"])
def test_text_with_a_lone_surrogate_is_refused(field: str) -> None:
    with pytest.raises(InvalidMessage):
        message(**{field: "hi \ud800"})


def test_a_name_with_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(InvalidMessage):
        CustomerRef(channel="api", user_id="u1", display_name="\udcff")


def test_a_non_finite_time_is_refused() -> None:
    with pytest.raises(InvalidMessage):
        message(received_at=float("inf"))


def test_any_unicode_text_round_trips() -> None:
    event = message(text="emoji 🙂, RTL ‏שלום, nul \x00, astral 𝄞")
    assert decode_event(encode_event(event)) == event
