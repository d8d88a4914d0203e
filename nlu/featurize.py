"""Turns text into sparse TF-IDF vectors: word 1-2-grams, character 2-5-grams within word
boundaries and word pairs (two words a few places apart, in order, seen in at least two
training texts), sublinear term frequency, each block L2-normalised and the pair block
weighted. Plain Python and numpy, so that a saved vocabulary (JSON) and idf weights (npz)
reproduce it exactly."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped,unused-ignore]

_WORD = re.compile(r"\w+", re.UNICODE)
_DIGIT = re.compile(r"\d")


def words(text: str) -> list[str]:
    """Lower-cased word tokens; digits become 0 so that 7 am and 8 am look alike."""
    return [_DIGIT.sub("0", w) for w in _WORD.findall(text.lower())]


def _word_grams(tokens: list[str], n_max: int) -> list[str]:
    grams = list(tokens)
    for n in range(2, n_max + 1):
        grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return grams


def _pairs(tokens: list[str], window: int) -> list[str]:
    """Ordered pairs of different words at most ``window`` places apart: "set ... alarm"."""
    return [
        f"{a} {b}"
        for i, a in enumerate(tokens)
        for b in tokens[i + 2 : i + 1 + window]  # adjacent words are already a bigram
        if a != b
    ]


_BLOCKS = ("w:", "c:", "p:")  # words, characters, pairs: the order of the columns


def _char_grams(tokens: list[str], n_min: int, n_max: int) -> list[str]:
    grams: list[str] = []
    for token in tokens:
        padded = f" {token} "
        for n in range(n_min, n_max + 1):
            grams += [padded[i : i + n] for i in range(len(padded) - n + 1)]
    return grams


class Featurizer:
    """Fit on training texts, then ``transform`` (many) or ``vector`` (one, for parsing)."""

    def __init__(
        self,
        *,
        word_ngrams: int = 2,
        char_ngrams: tuple[int, int] = (2, 5),
        vocab: dict[str, int] | None = None,
        idf: np.ndarray[Any, np.dtype[np.float64]] | None = None,
        n_word: int = 0,
        pair_window: int = 8,
        pair_weight: float = 0.5,
        pair_min_df: int = 2,
    ) -> None:
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        # pair_window 1 or pair_weight 0: no pair features. Window and weight chosen on dev
        # splits of HWU64's and SNIPS' training data and by cross-validation of the example
        # bot's (benchmarks/nlu_tune.py)
        self.pair_window = pair_window
        self.pair_weight = pair_weight
        self.pair_min_df = pair_min_df
        self.vocab = vocab or {}
        self.idf = idf if idf is not None else np.zeros(0)
        self.n_word = n_word  # features [0, n_word) are words, the rest characters
        self._idf: list[float] = self.idf.tolist()

    @property
    def size(self) -> int:
        return len(self.vocab)

    def fit(self, texts: Sequence[str]) -> Featurizer:
        df: Counter[str] = Counter()
        lo, hi = self.char_ngrams
        chars: dict[str, list[str]] = {}
        for text in texts:
            tokens = words(text)
            grams = {"w:" + g for g in _word_grams(tokens, self.word_ngrams)}
            grams.update("p:" + g for g in _pairs(tokens, self.pair_window))
            for token in tokens:
                if token not in chars:
                    chars[token] = ["c:" + g for g in _char_grams([token], lo, hi)]
                grams.update(chars[token])
            df.update(grams)
        for gram in [g for g, n in df.items() if g.startswith("p:") and n < self.pair_min_df]:
            del df[gram]
        names = sorted(df, key=lambda g: (_BLOCKS.index(g[:2]), g))
        self.vocab = {g: i for i, g in enumerate(names)}
        self.n_word = sum(1 for g in names if g.startswith("w:"))
        n = len(texts)
        # smooth idf, as scikit-learn's: ln((1 + n) / (1 + df)) + 1
        self.idf = np.array([math.log((1 + n) / (1 + df[g])) + 1 for g in names])
        self._idf = self.idf.tolist()
        return self

    def _char_cols(self, token: str) -> list[int]:
        lo, hi = self.char_ngrams
        vocab = self.vocab
        return [i for g in _char_grams([token], lo, hi) if (i := vocab.get("c:" + g)) is not None]

    def indices(
        self, text: str, cache: dict[str, list[int]] | None = None
    ) -> tuple[list[int], list[float]]:
        """The non-zero features of one text, as (column, weight); ``cache`` maps a token to
        its character-gram columns while transforming many texts."""
        tokens = words(text)
        vocab = self.vocab
        word_cols = [
            i
            for g in _word_grams(tokens, self.word_ngrams)
            if (i := vocab.get("w:" + g)) is not None
        ]
        pair_cols = [
            i for g in _pairs(tokens, self.pair_window) if (i := vocab.get("p:" + g)) is not None
        ]
        char_cols: list[int] = []
        for token in tokens:
            if cache is None:
                char_cols += self._char_cols(token)
            else:
                found = cache.get(token)
                if found is None:
                    found = cache[token] = self._char_cols(token)
                char_cols += found
        cols: list[int] = []
        vals: list[float] = []
        idf = self._idf
        for block, scale in ((word_cols, 1.0), (char_cols, 1.0), (pair_cols, self.pair_weight)):
            if not block or scale <= 0:
                continue
            counts = Counter(block)
            weights = [(1.0 + math.log(c)) * idf[i] for i, c in counts.items()]
            norm = math.sqrt(sum(w * w for w in weights)) / scale
            cols += counts.keys()
            vals += [w / norm for w in weights]
        return cols, vals

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        indptr = [0]
        cols: list[int] = []
        vals: list[float] = []
        cache: dict[str, list[int]] = {}
        for text in texts:
            c, v = self.indices(text, cache)
            cols += c
            vals += v
            indptr.append(len(cols))
        return sp.csr_matrix(
            (np.array(vals, dtype=np.float64), np.array(cols, dtype=np.int64), indptr),
            shape=(len(texts), self.size),
        )

    # ------------------------------------------------------------------ persistence

    def config(self) -> dict[str, Any]:
        return {
            "word_ngrams": self.word_ngrams,
            "char_ngrams": list(self.char_ngrams),
            "pair_window": self.pair_window,
            "pair_weight": self.pair_weight,
            "pair_min_df": self.pair_min_df,
        }

    def to_json(self) -> dict[str, Any]:
        names = sorted(self.vocab, key=self.vocab.__getitem__)
        return {**self.config(), "n_word": self.n_word, "vocabulary": names}

    @classmethod
    def from_json(
        cls, spec: dict[str, Any], idf: np.ndarray[Any, np.dtype[np.float64]]
    ) -> Featurizer:
        names: list[str] = spec["vocabulary"]
        lo, hi = spec["char_ngrams"]
        return cls(
            word_ngrams=int(spec["word_ngrams"]),
            char_ngrams=(int(lo), int(hi)),
            vocab={g: i for i, g in enumerate(names)},
            idf=idf,
            n_word=int(spec["n_word"]),
            pair_window=int(spec.get("pair_window", 1)),
            pair_weight=float(spec.get("pair_weight", 0.0)),
            pair_min_df=int(spec.get("pair_min_df", 2)),
        )
