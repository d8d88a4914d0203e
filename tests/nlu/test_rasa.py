"""The Rasa backend against a fake Rasa server that answers with recorded Rasa 3.6 answers."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest

from nlu.rasa import RasaNlu
from nlu.result import Entity, IntentScore, ParseResult
from nlu.settings import NluSettings
from tests.support.rasa_server import FakeRasa, recorded, start_fake_rasa
from tests.support.redis_server import free_port

ORDER = "where is my order A123456?"
HOURS = "are you open on sunday"
JOKE = "tell me a joke"


class BuiltinStandIn:
    """A second backend that answers every message the same way and counts its calls."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def parse(self, text: str) -> ParseResult:
        self.texts.append(text)
        return ParseResult(text=text, intent="from_fallback", confidence=0.9, sentiment=-0.5)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeRasa, str]]:
    server = FakeRasa(
        answers={
            ORDER: recorded("parse_order_status"),
            HOURS: recorded("parse_opening_hours"),
            JOKE: recorded("parse_out_of_scope"),
        }
    )
    runner, url = await start_fake_rasa(server)
    yield server, url
    await runner.cleanup()


def low_confidence(answer: dict[str, Any], confidence: float) -> dict[str, Any]:
    answer = copy.deepcopy(answer)
    answer["intent"]["confidence"] = confidence
    answer["intent_ranking"][0]["confidence"] = confidence
    return answer


async def test_maps_intent_ranking_and_entities(fake: tuple[FakeRasa, str]) -> None:
    server, url = fake
    nlu = RasaNlu(url=url, threshold=0.3)
    try:
        result = await nlu.parse(ORDER)
    finally:
        await nlu.close()

    answer = recorded("parse_order_status")
    assert server.requests == [{"text": ORDER}]
    assert result.text == ORDER
    assert result.intent == "order_status"
    assert result.confidence == pytest.approx(answer["intent"]["confidence"])
    assert result.ranking[0] == IntentScore(
        name="order_status", confidence=answer["intent_ranking"][0]["confidence"]
    )
    assert [s.name for s in result.ranking] == [r["name"] for r in answer["intent_ranking"]]
    assert result.entities == (
        Entity(
            entity="order_id",
            value="A123456",
            text="A123456",
            start=18,
            end=25,
            extractor="rasa",
        ),
    )
    assert result.sentiment == 0.0
    assert nlu.failures == 0


async def test_role_and_group_are_kept(fake: tuple[FakeRasa, str]) -> None:
    server, url = fake
    text = "move order A123456 to Berlin"
    answer = copy.deepcopy(recorded("parse_order_status"))
    answer["entities"] = [
        {"entity": "order_id", "start": 11, "end": 18, "value": "A123456", "extractor": "X"},
        {
            "entity": "city",
            "start": 22,
            "end": 28,
            "value": "berlin",
            "role": "destination",
            "group": "1",
            "confidence_entity": 0.97,
            "extractor": "DIETClassifier",
        },
    ]
    server.answers[text] = answer
    async with _backend(url) as nlu:
        result = await nlu.parse(text)
    city = result.entities[1]
    assert (city.entity, city.value, city.text) == ("city", "berlin", "Berlin")
    assert (city.role, city.group, city.extractor) == ("destination", "1", "rasa")


async def test_below_the_threshold_is_not_understood(fake: tuple[FakeRasa, str]) -> None:
    server, url = fake
    server.answers[HOURS] = low_confidence(recorded("parse_opening_hours"), 0.41)
    async with _backend(url, threshold=0.5) as nlu:
        result = await nlu.parse(HOURS)
    assert result.intent is None
    assert result.confidence == pytest.approx(0.41)
    assert result.ranking[0].name == "opening_hours"  # the ranking stays, for clarification
    assert nlu.failures == 0


async def test_at_the_threshold_is_understood(fake: tuple[FakeRasa, str]) -> None:
    server, url = fake
    server.answers[HOURS] = low_confidence(recorded("parse_opening_hours"), 0.5)
    async with _backend(url, threshold=0.5) as nlu:
        assert (await nlu.parse(HOURS)).intent == "opening_hours"


async def test_out_of_scope_is_not_understood_even_when_confident(
    fake: tuple[FakeRasa, str],
) -> None:
    _, url = fake
    answer = recorded("parse_out_of_scope")
    assert answer["intent"]["name"] == "out_of_scope"
    async with _backend(url, threshold=0.0) as nlu:
        result = await nlu.parse(JOKE)
    assert result.intent is None
    assert result.ranking[0].name == "out_of_scope"


async def test_nlu_fallback_is_not_understood_and_left_out_of_the_ranking(
    fake: tuple[FakeRasa, str],
) -> None:
    server, url = fake
    text = "blorp"
    server.answers[text] = recorded("parse_nlu_fallback")
    async with _backend(url, threshold=0.0) as nlu:
        result = await nlu.parse(text)
    assert result.intent is None
    assert result.ranking
    assert "nlu_fallback" not in [s.name for s in result.ranking]
    assert result.confidence == result.ranking[0].confidence


async def test_timeout_parses_with_the_fallback(fake: tuple[FakeRasa, str]) -> None:
    server, url = fake
    server.delay = 5.0
    builtin = BuiltinStandIn()
    errors: list[tuple[str, str]] = []
    async with _backend(
        url, timeout=0.2, fallback=builtin, on_error=lambda *e: errors.append(e)
    ) as nlu:
        result = await nlu.parse(HOURS)
    assert result.intent == "from_fallback"
    assert builtin.texts == [HOURS]
    assert (nlu.failures, nlu.fallbacks, nlu.not_understood) == (1, 1, 0)
    assert errors == [("rasa", "fallback")]


@pytest.mark.parametrize("status", [500, 503, 409])
async def test_error_status_parses_with_the_fallback(
    fake: tuple[FakeRasa, str], status: int
) -> None:
    server, url = fake
    failure = {**recorded("error_no_model"), "code": status}  # Rasa's error body
    server.script = [(status, failure)]
    builtin = BuiltinStandIn()
    async with _backend(url, fallback=builtin) as nlu:
        first = await nlu.parse(HOURS)
        second = await nlu.parse(HOURS)  # the server is back
    assert first.intent == "from_fallback"
    assert second.intent == "opening_hours"
    assert builtin.texts == [HOURS]
    assert (nlu.failures, nlu.fallbacks) == (1, 1)


@pytest.mark.parametrize("body", [b"<html>bad gateway</html>", b'{"text": "x"}', b"[1, 2]"])
async def test_an_answer_that_is_not_rasa_json_parses_with_the_fallback(
    fake: tuple[FakeRasa, str], body: bytes
) -> None:
    server, url = fake
    server.script = [(200, body)]
    builtin = BuiltinStandIn()
    async with _backend(url, fallback=builtin) as nlu:
        result = await nlu.parse(HOURS)
    assert result.intent == "from_fallback"
    assert nlu.fallbacks == 1


async def test_without_fallback_a_failure_is_not_understood(fake: tuple[FakeRasa, str]) -> None:
    server, url = fake
    server.script = [(500, {"status": "failure"})]
    errors: list[tuple[str, str]] = []
    async with _backend(url, sentiment=lambda _: 0.25, on_error=lambda *e: errors.append(e)) as nlu:
        result = await nlu.parse(HOURS)
    assert result == ParseResult(text=HOURS, intent=None, confidence=0.0, sentiment=0.25)
    assert (nlu.failures, nlu.fallbacks, nlu.not_understood) == (1, 0, 1)
    assert errors == [("rasa", "not_understood")]


async def test_connection_refused_is_a_failure() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    builtin = BuiltinStandIn()
    async with _backend(url, fallback=builtin) as nlu:
        assert (await nlu.parse(ORDER)).intent == "from_fallback"
    async with _backend(url) as nlu:
        assert (await nlu.parse(ORDER)).intent is None
        assert nlu.not_understood == 1


async def test_local_sentiment_is_added_to_rasa_results(fake: tuple[FakeRasa, str]) -> None:
    _, url = fake
    async with _backend(url, sentiment=lambda text: -0.75 if "order" in text else 0.0) as nlu:
        assert (await nlu.parse(ORDER)).sentiment == -0.75
        assert (await nlu.parse(HOURS)).sentiment == 0.0


async def test_settings_fallback_none_ignores_the_builtin(fake: tuple[FakeRasa, str]) -> None:
    server, url = fake
    server.script = [(500, {}), (500, {})]
    builtin = BuiltinStandIn()
    with_fallback = RasaNlu.from_settings(
        NluSettings(backend="rasa", url=url, fallback="builtin"), fallback=builtin
    )
    without = RasaNlu.from_settings(
        NluSettings(backend="rasa", url=url, fallback="none"), fallback=builtin
    )
    try:
        assert (await with_fallback.parse(HOURS)).intent == "from_fallback"
        assert (await without.parse(HOURS)).intent is None
    finally:
        await with_fallback.close()
        await without.close()
    assert builtin.texts == [HOURS]


async def test_auth_token_in_the_url_is_sent_and_the_path_appended(
    fake: tuple[FakeRasa, str],
) -> None:
    server, url = fake
    async with _backend(f"{url}/?token=s3cret") as nlu:
        assert (await nlu.parse(HOURS)).intent == "opening_hours"
    assert server.queries == [{"token": "s3cret"}]


async def test_closed_backend_opens_a_new_session_on_the_next_parse(
    fake: tuple[FakeRasa, str],
) -> None:
    _, url = fake
    nlu = RasaNlu(url=url, threshold=0.3)
    await nlu.start()
    assert (await nlu.parse(HOURS)).intent == "opening_hours"
    await nlu.close()
    assert (await nlu.parse(HOURS)).intent == "opening_hours"
    await nlu.close()


class _backend:
    """``async with _backend(url, ...) as nlu``: a started RasaNlu, closed afterwards."""

    def __init__(self, url: str, *, threshold: float = 0.3, **kwargs: Any) -> None:
        self.nlu = RasaNlu(url=url, threshold=threshold, **kwargs)

    async def __aenter__(self) -> RasaNlu:
        await self.nlu.start()
        return self.nlu

    async def __aexit__(self, *exc: object) -> None:
        await self.nlu.close()
