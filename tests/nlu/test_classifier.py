"""The built-in intent classifier: learns, ranks with confidences, and says "not understood"
below the threshold or for the out_of_scope intent; a cross-validation floor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nlu.data import Example, NluData, read_files
from nlu.embeddings import Novelty
from nlu.evaluate import cross_validate
from nlu.featurize import Featurizer
from nlu.model import BuiltinBackend, BuiltinNlu, train

DATA = Path(__file__).parent / "data"
EXAMPLE_BOT = sorted((Path(__file__).parents[2] / "dialogs" / "nlu").glob("*.yml"))


@pytest.fixture(scope="module")
def shop() -> BuiltinNlu:
    return train(read_files([DATA / "shop.yml"]), threshold=0.3)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("where is my parcel", "order_status"),
        ("please cancel my order", "cancel_order"),
        ("I would like a refund", "refund"),
        ("can I speak to a human agent", "human"),
        ("hello there", "greet"),
    ],
)
def test_learns_intents(shop: BuiltinNlu, text: str, intent: str) -> None:
    result = shop.parse(text)
    assert result.intent == intent
    assert result.ranking[0].name == intent


def test_ranking_is_best_first_with_probabilities(shop: BuiltinNlu) -> None:
    ranking = shop.parse("cancel my order").ranking
    confidences = [s.confidence for s in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert len({s.name for s in ranking}) == 6
    assert sum(confidences) == pytest.approx(1.0, abs=1e-4)


def test_out_of_scope_intent_is_not_understood(shop: BuiltinNlu) -> None:
    result = shop.parse("tell me a joke about the weather")
    assert result.ranking[0].name == "out_of_scope"
    assert result.intent is None


def test_below_threshold_is_not_understood() -> None:
    data = read_files([DATA / "shop.yml"])
    strict = train(data, threshold=0.99)
    result = strict.parse("xyzzy plugh")
    assert result.intent is None and 0 < result.confidence < 0.99
    assert result.ranking  # the ranking is still there for the dialog to use


def test_fewer_than_two_intents_understands_nothing() -> None:
    data = NluData(
        examples=[Example(text="hi", intent="greet"), Example(text="yo", intent="greet")]
    )
    assert train(data).parse("hi").intent is None


async def test_backend_satisfies_the_async_contract(shop: BuiltinNlu) -> None:
    result = await BuiltinBackend(shop).parse("track my order")
    assert result.intent == "order_status"


def test_cross_validation_floor() -> None:
    """The CI floor for the example data: a drop below it means the model got worse."""
    report = cross_validate(read_files([DATA / "shop.yml"]), folds=5, threshold=0.3)
    assert report.in_scope_accuracy >= 0.85
    assert report.accuracy >= 0.8


def test_words_apart_are_features_when_seen_twice() -> None:
    """ "set ... alarm" several words apart is one feature; a pair seen once is not kept."""
    texts = ["set an alarm", "set the alarm", "wake me up"]
    featurizer = Featurizer().fit(texts)
    assert "p:set alarm" in featurizer.vocab and "p:wake up" not in featurizer.vocab
    cols, _ = featurizer.indices("set a loud alarm")
    assert featurizer.vocab["p:set alarm"] in cols
    off = Featurizer(pair_window=1).fit(texts)
    assert not any(gram.startswith("p:") for gram in off.vocab)


def test_example_bot_is_understood_with_honest_confidences() -> None:
    """The example bot's data, cross-validated at the default threshold: most messages are
    understood, and the confidences are calibrated: on average as high as the share right."""
    report = cross_validate(read_files(EXAMPLE_BOT), folds=5, threshold=0.5)
    assert report.accuracy >= 0.8
    assert report.not_understood_rate <= 0.1
    assert abs(report.mean_confidence - report.top_accuracy) <= 0.08
    assert report.calibration_error <= 0.1


def test_novelty_flags_a_message_unlike_its_intents_examples(tmp_path: Path) -> None:
    """The novelty score (no encoder needed here: vectors given) answers a message close to
    its predicted intent's examples and not one far from all of them, even when the classifier
    is confident; it survives a save without pickles."""
    rng = np.random.default_rng(0)
    centres = np.eye(4, 16)
    vectors = np.vstack([c + 0.1 * rng.standard_normal((30, 16)) for c in centres])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    truth = np.repeat(np.arange(4), 30)
    proba = np.full((120, 4), 0.02)
    proba[np.arange(120), truth] = 0.94
    folds = [np.arange(i, 120, 3) for i in range(3)]
    novelty = Novelty.fit(vectors, truth, proba, folds, budget=0.03)
    np.savez(tmp_path / "n.npz", **novelty.arrays())
    with np.load(tmp_path / "n.npz", allow_pickle=False) as arrays:
        loaded = Novelty.from_arrays({name: arrays[name] for name in arrays.files})
    assert loaded is not None
    near = centres[2] / np.linalg.norm(centres[2])
    far = np.eye(16)[10]
    assert loaded.understood(0.94, 2, near)
    assert not loaded.understood(0.94, 2, far)
