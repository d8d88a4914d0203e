"""The static sentence embedding of the default install: a table of one vector per word
piece, distilled from all-MiniLM-L6-v2 (nlu/tools/distill_static.py) and shipped in
``nlu/static/`` (6.8 MB, Apache-2.0, see its NOTICE). A text's vector is the mean of its pieces'
vectors (pure-Python WordPiece, nlu/wordpiece.py), L2-normalised: microseconds a message,
no extra dependency, nothing downloaded."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from nlu.wordpiece import WordPiece

Array = np.ndarray[Any, np.dtype[np.float32]]
TABLE = "minilm_static.npz"


class StaticEmbedding:
    def __init__(self, table: Array, vocab: Sequence[str]) -> None:
        self.table = table  # (pieces, dims) float32
        self.tokenizer = WordPiece(vocab)

    @property
    def dims(self) -> int:
        return int(self.table.shape[1])

    @classmethod
    def load(cls) -> StaticEmbedding:
        folder = resources.files("nlu") / "static"
        with resources.as_file(folder / TABLE) as path, np.load(path) as arrays:
            table = arrays["table"].astype(np.float32) * arrays["scale"][:, None]
        vocab = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
        return cls(table, vocab)

    def vector(self, text: str) -> Array:
        ids = self.tokenizer.ids(text)
        if not ids:
            return np.zeros(self.dims, dtype=np.float32)
        v = self.table[ids].mean(axis=0)
        norm = float(np.linalg.norm(v))
        out: Array = v / norm if norm > 0 else v
        return out

    def encode(self, texts: Sequence[str]) -> Array:
        """One L2-normalised row per text (zeros for a text without any word piece)."""
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self.vector(text)
        return out


@lru_cache(maxsize=1)
def default_embedding() -> StaticEmbedding:
    """The shipped table, loaded once (about 0.1 s)."""
    return StaticEmbedding.load()


def encode(texts: Sequence[str]) -> Array:
    return default_embedding().encode(texts)
