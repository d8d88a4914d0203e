"""A calibrated "understood" probability: P(the top intent is the right answer), fitted on the
training data alone so that ``nlu.threshold`` means the same with 5 intents or 150.

Cross-validation supplies in-scope examples scored by models that did not see them (right or
wrong), and pseudo-out-of-scope examples: intents held out of training in turn, whose examples
must come out "not understood". A logistic regression maps five features of a message to the
probability that its top intent is right:

- the log of the top (temperature-scaled) probability, and its margin over the second;
- the cosine similarity of the message's static embedding to the nearest training example of
  the predicted intent, and the mean of the three nearest;
- the share of the message's words seen in training texts.

The pseudo-out-of-scope examples weigh ``OOS_WEIGHT`` times the in-scope ones in total (the
prior that a message is out of scope, chosen on HWU64's training data: docs/nlu.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped,unused-ignore]

from nlu.classifier import LinearClassifier, softmax
from nlu.featurize import words

Array = np.ndarray[Any, np.dtype[Any]]
OOS_WEIGHT = 0.05
OOS_GROUPS = 5  # intents held out in turn, a fifth at a time
NEAREST = 3


def features(proba: Array, similarities: Sequence[Array], coverage: Array) -> Array:
    """Rows of (log top p, log margin, nearest similarity, mean of 3 nearest, coverage)."""
    top2 = (
        -np.sort(-proba, axis=1)[:, :2]
        if proba.shape[1] > 1
        else np.hstack([proba, np.zeros((len(proba), 1))])
    )
    logp = np.log(np.clip(top2[:, 0], 1e-12, None))
    margin = logp - np.log(np.clip(top2[:, 1], 1e-12, None))
    nearest = np.array([float(s.max()) if len(s) else 0.0 for s in similarities])
    near3 = np.array([float(np.sort(s)[-NEAREST:].mean()) if len(s) else 0.0 for s in similarities])
    return np.column_stack([logp, np.minimum(margin, 20.0), nearest, near3, coverage])


def word_coverage(texts: Sequence[str], known: set[str]) -> Array:
    out = np.ones(len(texts))
    for i, text in enumerate(texts):
        tokens = words(text)
        if tokens:
            out[i] = sum(t in known for t in tokens) / len(tokens)
    return out


class InScope:
    """P(right) = sigmoid(w . z(features) + b); keeps the training examples' static vectors
    grouped by intent (float16) for the similarity features."""

    def __init__(self, stats: Array, coef: Array, vectors: Array, offsets: Array) -> None:
        self.stats = stats  # (3, 5): feature means, feature sds, [intercept, 0, 0, 0, 0]
        self.coef = coef
        self.vectors = vectors  # training vectors sorted by intent
        self.offsets = offsets  # intent i's rows: offsets[i]:offsets[i + 1]

    def probability(self, rows: Array) -> Array:
        z = (rows - self.stats[0]) / self.stats[1]
        out: Array = 1.0 / (1.0 + np.exp(-(z @ self.coef + self.stats[2, 0])))
        return out

    def probability_one(self, proba: Array, vector: Array, coverage: float) -> float:
        """P(right) for one message from its probabilities, static vector and word coverage."""
        best = int(np.argmax(proba))
        rows = self.vectors[self.offsets[best] : self.offsets[best + 1]]
        sims = rows.astype(np.float32) @ vector
        feats = features(proba[None, :], [sims], np.array([coverage]))
        return float(self.probability(feats)[0])

    @classmethod
    def fit(
        cls,
        x: sp.csr_matrix,
        texts: Sequence[str],
        truth: Array,
        vectors: Array,
        classifier: LinearClassifier,
        *,
        c: float,
        balanced: bool,
        seed: int = 0,
    ) -> InScope | None:
        """From the training features, labels (indices into ``classifier.labels``), static
        vectors and the classifier's cross-validated scores; None without cross-validation."""
        if classifier.cv_scores is None:
            return None
        rows, right, weight = cls._in_scope_rows(texts, truth, vectors, classifier)
        oos = cls._pseudo_oos_rows(x, texts, truth, vectors, classifier, c, balanced, seed)
        if len(oos):
            rows = np.vstack([rows, oos])
            right = np.concatenate([right, np.zeros(len(oos))])
            weight = np.concatenate([weight, np.full(len(oos), OOS_WEIGHT * len(truth) / len(oos))])
        if right.min() == right.max():  # all right (or all wrong): nothing to learn
            return None
        from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

        mean, sd = rows.mean(axis=0), rows.std(axis=0)
        sd[sd == 0] = 1.0
        model = LogisticRegression(C=1.0).fit((rows - mean) / sd, right, sample_weight=weight)
        stats = np.vstack([mean, sd, np.zeros(5)])
        stats[2, 0] = float(model.intercept_[0])
        order = np.argsort(truth, kind="stable")
        offsets = np.searchsorted(truth[order], np.arange(len(classifier.labels) + 1))
        grouped = vectors[order].astype(np.float16)
        return cls(stats, model.coef_[0].astype(np.float64), grouped, offsets)

    @staticmethod
    def _in_scope_rows(
        texts: Sequence[str], truth: Array, vectors: Array, classifier: LinearClassifier
    ) -> tuple[Array, Array, Array]:
        assert classifier.cv_scores is not None
        proba = softmax(classifier.cv_scores, classifier.temperature)
        predicted = proba.argmax(axis=1)
        n = len(truth)
        sims: list[Array] = [np.zeros(0)] * n
        coverage = np.ones(n)
        for held in classifier.cv_folds:
            mask = np.ones(n, dtype=bool)
            mask[held] = False
            seen = {w for i in np.flatnonzero(mask) for w in words(texts[int(i)])}
            coverage[held] = word_coverage([texts[i] for i in held], seen)
            fold_sims = vectors[held] @ vectors[mask].T
            fold_truth = truth[mask]
            for row, i in enumerate(held):
                sims[i] = fold_sims[row][fold_truth == predicted[i]]
        rows = features(proba, sims, coverage)
        return rows, (predicted == truth).astype(float), np.ones(n)

    @staticmethod
    def _pseudo_oos_rows(
        x: sp.csr_matrix,
        texts: Sequence[str],
        truth: Array,
        vectors: Array,
        classifier: LinearClassifier,
        c: float,
        balanced: bool,
        seed: int,
    ) -> Array:
        n_labels = len(classifier.labels)
        if n_labels < 3:
            return np.zeros((0, 5))
        from nlu.classifier import _svm, _two_class_safe

        order = np.random.default_rng(seed).permutation(n_labels)
        groups = [g for g in np.array_split(order, min(OOS_GROUPS, n_labels)) if len(g)]
        out = []
        for group in groups:
            held = np.isin(truth, group)
            kept = np.unique(truth[~held])
            if len(kept) < 2:
                continue
            model = _svm(c, balanced).fit(x[~held], truth[~held])
            coef, intercept = _two_class_safe(model, n_labels, present=kept)
            scores = np.asarray(x[held] @ coef.T + intercept)[:, kept]
            proba = softmax(scores, classifier.temperature)
            predicted = kept[proba.argmax(axis=1)]
            seen = {w for i in np.flatnonzero(~held) for w in words(texts[int(i)])}
            held_idx = np.flatnonzero(held)
            sims = vectors[held_idx] @ vectors[~held].T
            train_truth = truth[~held]
            similarities = [sims[r][train_truth == predicted[r]] for r in range(len(held_idx))]
            coverage = word_coverage([texts[int(i)] for i in held_idx], seen)
            out.append(features(proba, similarities, coverage))
        return np.vstack(out) if out else np.zeros((0, 5))

    def arrays(self) -> dict[str, Array]:
        return {
            "inscope_stats": self.stats,
            "inscope_coef": self.coef,
            "inscope_vectors": self.vectors,
            "inscope_offsets": self.offsets,
        }

    @classmethod
    def from_arrays(cls, arrays: Any) -> InScope | None:
        if "inscope_coef" not in arrays:
            return None
        return cls(
            arrays["inscope_stats"],
            arrays["inscope_coef"],
            arrays["inscope_vectors"],
            arrays["inscope_offsets"],
        )
