"""The Rasa backend against a real Rasa 3.6 server trained on the example bot's NLU data
(dialogs/nlu, the same files the built-in NLU trains on).

Skipped, with the reason, when no Python 3.10 interpreter with Rasa 3.6 is available (see
``scripts/ci_rasa.sh`` and docs/rasa.md). The server is trained (cached by data hash) and
started once per test session.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from nlu.rasa import RasaNlu
from tests.support.rasa_server import PAYLOADS, RasaServer, rasa_python, train_model

# Training and starting Rasa (once per session) happen in the first test's setup.
pytestmark = [pytest.mark.rasa, pytest.mark.timeout(600)]

EXAMPLE_NLU = Path(__file__).resolve().parents[2] / "dialogs" / "nlu"
INTENTS = {
    line.split(":", 1)[1].strip()
    for path in EXAMPLE_NLU.glob("*.yml")
    for line in path.read_text().splitlines()
    if line.startswith("- intent:")
}


@pytest.fixture(scope="session")
def rasa_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    python, reason = rasa_python()
    if python is None:
        pytest.skip(f"Rasa integration test skipped: {reason}")
    directory = tmp_path_factory.mktemp("rasa")
    model = train_model(python, EXAMPLE_NLU, PAYLOADS / "config.yml", directory / "rasa-train.log")
    server = RasaServer(python, model, directory)
    server.start()
    yield server.url
    server.stop()


@pytest.fixture
async def rasa(rasa_url: str) -> AsyncIterator[RasaNlu]:
    nlu = RasaNlu(url=rasa_url, timeout=10.0, threshold=0.5)
    await nlu.start()
    yield nlu
    await nlu.close()


@pytest.mark.parametrize(
    ("text", "order_id", "start"),
    [
        ("where is my order AB12345?", "AB12345", 18),
        ("has order ZK98765 shipped yet", "ZK98765", 10),
        ("can you check order QT24680 for me please", "QT24680", 20),
    ],
)
async def test_order_status_with_the_order_id(
    rasa: RasaNlu, text: str, order_id: str, start: int
) -> None:
    result = await rasa.parse(text)
    assert result.intent == "order_status"
    assert result.confidence >= 0.5
    [entity] = result.entities
    assert (entity.entity, entity.value, entity.text) == ("order_id", order_id, order_id)
    assert (entity.start, entity.end) == (start, start + len(order_id))
    assert entity.extractor == "rasa"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("hello there", "greet"),
        ("are you open on sunday", "opening_hours"),
        ("what time does the shop close today", "opening_hours"),
        ("bye for now", "goodbye"),
    ],
)
async def test_intents_and_ranking(rasa: RasaNlu, text: str, intent: str) -> None:
    result = await rasa.parse(text)
    assert result.intent == intent
    assert result.entities == ()
    assert {s.name for s in result.ranking} <= INTENTS
    assert result.ranking[0].name == intent
    assert rasa.failures == 0


@pytest.mark.parametrize("text", ["tell me a joke", "who won the football game last night"])
async def test_out_of_scope_is_not_understood(rasa: RasaNlu, text: str) -> None:
    result = await rasa.parse(text)
    assert result.intent is None
    assert result.ranking[0].name == "out_of_scope"
    assert rasa.failures == 0


async def test_concurrent_parses_share_one_session(rasa: RasaNlu) -> None:
    texts = [f"where is my order AB{n:05d}" for n in range(12)]
    results = await asyncio.gather(*(rasa.parse(t) for t in texts))
    assert [r.intent for r in results] == ["order_status"] * len(texts)
    assert [r.entities[0].value for r in results] == [f"AB{n:05d}" for n in range(12)]
