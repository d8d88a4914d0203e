"""The sentence embeddings of the ``embeddings``/``hybrid`` classifiers (nlu/encoder.py: the
all-MiniLM-L6-v2 graph shipped in the package, run by onnxruntime), and the novelty score built
on them (how unlike its predicted intent's training examples a message is)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nlu import encoder

NAME = encoder.NAME
EmbeddingsUnavailable = encoder.EncoderUnavailable


def available() -> bool:
    return encoder.available()


def encode(texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Unit-length sentence vectors, one row per text."""
    return encoder.encode(texts)


Array = np.ndarray[Any, np.dtype[Any]]
NOVELTY_K = 5  # neighbours averaged
NOVELTY_WEIGHT = 2.0  # of the neighbour similarity against the log top probability
# k, weight and the combination were chosen on pseudo-out-of-scope intents held out of HWU64's
# *training* data (benchmarks/nlu_out_of_scope.py, docs/nlu.md "Out of scope")


class Novelty:
    """In-scope score = z(log top probability) + 2 z(mean cosine similarity of the message's
    sentence embedding to the 5 nearest training examples of the predicted intent), z scaled by
    the cross-validated training scores. Below ``threshold`` the message is "not understood";
    the threshold is the score under which ``budget`` of the training examples, scored by the
    cross-validation folds, would be answered right and lose their answer."""

    def __init__(self, vectors: Array, offsets: Array, stats: Array) -> None:
        self.vectors = vectors  # training embeddings, grouped by intent (float32)
        self.offsets = offsets  # intent i's rows: offsets[i]:offsets[i + 1]
        self.stats = stats  # mean, sd of log p; mean, sd of similarity; weight; threshold

    @property
    def threshold(self) -> float:
        return float(self.stats[5])

    @staticmethod
    def _similarity(sims: Array) -> float:
        """The mean of the ``NOVELTY_K`` highest cosine similarities."""
        if len(sims) == 0:
            return 0.0
        k = min(NOVELTY_K, len(sims))
        return float(np.partition(sims, len(sims) - k)[-k:].mean())

    def score(self, top_probability: float, intent: int, vector: Array) -> float:
        mean_p, sd_p, mean_s, sd_s, weight, _ = (float(v) for v in self.stats)
        rows = self.vectors[self.offsets[intent] : self.offsets[intent + 1]]
        similarity = self._similarity(rows @ vector)
        logp = float(np.log(max(top_probability, 1e-12)))
        return (logp - mean_p) / sd_p + weight * (similarity - mean_s) / sd_s

    def understood(self, top_probability: float, intent: int, vector: Array) -> bool:
        return self.score(top_probability, intent, vector) >= self.threshold

    @classmethod
    def fit(
        cls, vectors: Array, truth: Array, cv_proba: Array, folds: Sequence[Array], budget: float
    ) -> Novelty:
        """From the training embeddings and labels and the classifier's cross-validated
        probabilities on its folds (each held-out example is compared with the others)."""
        n = len(truth)
        logp = np.log(np.clip(cv_proba.max(axis=1), 1e-12, None))
        predicted = cv_proba.argmax(axis=1)
        similarity = np.zeros(n)
        for held in folds:
            mask = np.ones(n, dtype=bool)
            mask[held] = False
            sims = vectors[held] @ vectors[mask].T
            fold_truth = truth[mask]
            for row, i in enumerate(held):
                similarity[i] = cls._similarity(sims[row][fold_truth == predicted[i]])
        stats = np.array(
            [logp.mean(), logp.std() or 1.0, similarity.mean(), similarity.std() or 1.0,
             NOVELTY_WEIGHT, 0.0]
        )  # fmt: skip
        scores = (logp - stats[0]) / stats[1] + NOVELTY_WEIGHT * (similarity - stats[2]) / stats[3]
        right = np.sort(scores[predicted == truth])
        allowed = int(np.floor(budget * n))
        stats[5] = right[allowed] if allowed < len(right) else np.inf
        order = np.argsort(truth, kind="stable")
        offsets = np.searchsorted(truth[order], np.arange(cv_proba.shape[1] + 1))
        return cls(vectors[order].astype(np.float32), offsets, stats)

    def arrays(self) -> dict[str, Array]:
        return {"novelty_vectors": self.vectors, "novelty_offsets": self.offsets,
                "novelty_stats": self.stats}  # fmt: skip

    @classmethod
    def from_arrays(cls, arrays: Any) -> Novelty | None:
        if "novelty_stats" not in arrays:
            return None
        return cls(arrays["novelty_vectors"], arrays["novelty_offsets"], arrays["novelty_stats"])
