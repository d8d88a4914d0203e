"""The model cache: saved under model_dir keyed by the data and options, loaded instead of
retrained while the data is unchanged, retrained when it changes; no pickles."""

from __future__ import annotations

import shutil
from pathlib import Path

from nlu.model import TrainOptions, load_or_train
from nlu.settings import NluSettings

DATA = Path(__file__).parent / "data"


def test_same_data_is_loaded_changed_data_is_retrained(tmp_path: Path) -> None:
    data = tmp_path / "nlu.yml"
    shutil.copy(DATA / "shop.yml", data)
    models = tmp_path / "models"
    settings = NluSettings(data=(str(tmp_path / "*.yml"),), model_dir=str(models), threshold=0.3)

    first = load_or_train(settings)
    assert not first.loaded
    assert [p.name for p in models.iterdir()] == [first.key]
    assert sorted(p.name for p in (models / first.key).iterdir()) == [
        "entities.json", "featurizer.json", "meta.json", "weights.npz",
    ]  # fmt: skip

    again = load_or_train(settings)
    assert again.loaded and again.key == first.key
    for text in ("where is my order AB12345", "cancel it", "xyzzy", "refund my sneakers"):
        assert again.parse(text) == first.parse(text)

    data.write_text(data.read_text() + "- intent: thanks\n  examples: |\n    - thanks\n    - ty\n")
    changed = load_or_train(settings)
    assert not changed.loaded and changed.key != first.key
    assert "thanks" in changed.intents and changed.parse("thanks a lot").intent == "thanks"


def test_options_are_part_of_the_key(tmp_path: Path) -> None:
    paths = [DATA / "shop.yml"]
    a = load_or_train(paths, model_dir=tmp_path)
    b = load_or_train(paths, model_dir=tmp_path, options=TrainOptions(c=2.0))
    assert a.key != b.key and not b.loaded


def test_an_unreadable_cache_is_retrained(tmp_path: Path) -> None:
    first = load_or_train([DATA / "shop.yml"], model_dir=tmp_path)
    (tmp_path / first.key / "weights.npz").write_bytes(b"garbage")
    again = load_or_train([DATA / "shop.yml"], model_dir=tmp_path)
    assert not again.loaded and again.parse("cancel my order").intent == "cancel_order"


def test_no_data_understands_nothing(tmp_path: Path) -> None:
    nlu = load_or_train([tmp_path / "missing.yml"], model_dir="")
    result = nlu.parse("hello, my email is a@b.co")
    assert result.intent is None and [e.entity for e in result.entities] == ["email"]
