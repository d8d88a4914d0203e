"""The intent classifier: a linear SVM (scikit-learn's LinearSVC) over sparse features, with
confidences calibrated by temperature scaling of its scores, fitted on cross-validated
scores of the training data. Parsing is a sparse dot product in numpy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped,unused-ignore]

Array = np.ndarray[Any, np.dtype[Any]]


def softmax(scores: Array, temperature: float) -> Array:
    z = scores / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    out: Array = e / e.sum(axis=-1, keepdims=True)
    return out


def fit_temperature(scores: Array, truth: Array) -> float:
    """The temperature minimising the negative log-likelihood of the true labels."""
    best, best_nll = 1.0, float("inf")
    for t in np.exp(np.linspace(np.log(0.01), np.log(10.0), 120)):
        p = softmax(scores, float(t))[np.arange(len(truth)), truth]
        nll = float(-np.log(np.clip(p, 1e-12, None)).mean())
        if nll < best_nll:
            best, best_nll = float(t), nll
    return best


def _svm(c: float, balanced: bool) -> Any:
    from sklearn.svm import LinearSVC  # type: ignore[import-untyped]

    return LinearSVC(C=c, class_weight="balanced" if balanced else None, dual="auto")


class LinearClassifier:
    def __init__(
        self,
        labels: Sequence[str],
        coef: Array,
        intercept: Array,
        temperature: float,
    ) -> None:
        self.labels = list(labels)
        # (n_features, n_labels), float32: one row per feature, for fast gathers when parsing
        self.coef_t = np.ascontiguousarray(coef.T)
        self.intercept = intercept
        self.temperature = temperature
        # after ``fit`` only (not saved): the cross-validated scores of the training examples
        # and the folds' held-out indices, for fitting a novelty score on the same folds
        self.cv_scores: Array | None = None
        self.cv_folds: list[Array] = []

    @classmethod
    def fit(
        cls,
        x: sp.csr_matrix,
        y: Sequence[str],
        *,
        c: float = 1.0,
        balanced: bool = True,
        folds: int = 3,
        seed: int = 0,
    ) -> LinearClassifier:
        labels = sorted(set(y))
        if len(labels) < 2:
            raise ValueError("at least two intents are needed to train a classifier")
        index = {label: i for i, label in enumerate(labels)}
        truth = np.array([index[label] for label in y])
        scores, held = cls._cross_scores(x, truth, len(labels), c, balanced, folds, seed)
        temperature = fit_temperature(scores, truth) if held else 1.0
        model = _svm(c, balanced).fit(x, truth)
        coef, intercept = _two_class_safe(model, len(labels))
        out = cls(labels, coef.astype(np.float32), intercept.astype(np.float32), temperature)
        out.cv_scores, out.cv_folds = (scores, held) if held else (None, [])
        return out

    @staticmethod
    def _cross_scores(
        x: sp.csr_matrix, truth: Array, n: int, c: float, balanced: bool, folds: int, seed: int
    ) -> tuple[Array, list[Array]]:
        """Cross-validated scores and the held-out indices of each fold (none when an intent
        has too few examples: no calibration, temperature 1)."""
        counts = np.bincount(truth, minlength=n)
        folds = min(folds, int(counts.min()))  # folds=0: no calibration (temperature 1)
        scores = np.zeros((len(truth), n))
        if folds < 2:
            return scores, []
        from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]

        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        helds = []
        for train, held in splitter.split(np.zeros(len(truth)), truth):
            model = _svm(c, balanced).fit(x[train], truth[train])
            coef, intercept = _two_class_safe(model, n, present=np.unique(truth[train]))
            scores[held] = x[held] @ coef.T + intercept
            helds.append(held)
        return scores, helds

    def scores(self, x: sp.csr_matrix) -> Array:
        out: Array = np.asarray(x @ self.coef_t) + self.intercept
        return out

    def proba(self, x: sp.csr_matrix) -> Array:
        return softmax(self.scores(x), self.temperature)

    def proba_one(self, cols: Sequence[int], vals: Sequence[float], dense: Array | None) -> Array:
        """Probabilities for one message from its sparse features (+ a dense tail)."""
        s = self.intercept.astype(np.float64)
        if cols:
            s = s + np.asarray(vals, dtype=np.float32) @ self.coef_t[np.asarray(cols)]
        if dense is not None:
            s = s + dense.astype(np.float32) @ self.coef_t[-len(dense) :]
        return softmax(s, self.temperature)

    def arrays(self) -> dict[str, Array]:
        return {
            "coef": self.coef_t.T,
            "intercept": self.intercept,
            "temperature": np.array([self.temperature]),
        }

    @classmethod
    def from_arrays(cls, labels: Sequence[str], arrays: Any) -> LinearClassifier:
        return cls(labels, arrays["coef"], arrays["intercept"], float(arrays["temperature"][0]))


def _two_class_safe(model: Any, n: int, present: Array | None = None) -> tuple[Array, Array]:
    """LinearSVC's coef as (n, features) even for two classes or classes absent in a fold."""
    coef: Array = model.coef_
    intercept: Array = model.intercept_
    if coef.shape[0] == 1:  # binary: one row of scores for class 1
        coef = np.vstack([-coef[0], coef[0]])
        intercept = np.array([-intercept[0], intercept[0]])
    classes = np.asarray(model.classes_ if present is None else present)
    full = np.full((n, coef.shape[1]), 0.0)
    full_b = np.full(n, -1e3)  # a class the fold never saw scores very low
    full[classes] = coef
    full_b[classes] = intercept
    return full, full_b
