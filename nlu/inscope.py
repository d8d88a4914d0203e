"""A calibrated "understood" probability: P(the top intent is the right answer), fitted on the
training data alone so that ``nlu.threshold`` means the same with 5 intents or 150.

Cross-validation supplies in-scope examples scored by models that did not see them (right or
wrong), and pseudo-out-of-scope examples: intents held out of training in turn, whose examples
must come out "not understood". A logistic regression maps five features of a message to the
probability that its top intent is right:

- the log of the top (temperature-scaled) probability, and its margin over the second;
- the cosine similarity of the message's static embedding to the nearest training example of
  the predicted intent, and the mean of the three nearest;
- lexical support: the idf-weighted share of the message's words that occur in the predicted
  intent's training examples (a word never seen in training weighs the most): a message that a
  paraphrase-minded embedding pulls towards an intent without sharing its words ("is there a
  warranty?" -> legal) is less likely right.

The pseudo-out-of-scope examples weigh ``OOS_WEIGHT`` times the in-scope ones in total (the
prior that a message is out of scope, chosen on HWU64's training data: docs/nlu.md). With a
tuned encoder the probability is fitted on the examples it was not tuned on, and the weights
are fitted with the pseudo-out-of-scope examples weighing more, then recalibrated (``_fit``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped,unused-ignore]

from nlu.classifier import LinearClassifier, softmax
from nlu.featurize import words

Array = np.ndarray[Any, np.dtype[Any]]
OOS_WEIGHT = 0.05
# a tuned model's coefficients are fitted with the pseudo-out-of-scope examples weighing this
# much, then recalibrated to OOS_WEIGHT (``_fit``)
TUNED_RANK_WEIGHT = 0.25
OOS_GROUPS = 5  # intents held out in turn, a fifth at a time
# the models without the held-out intents train on at most this many examples (a seeded
# sample): with 10,000 examples the five extra fits would otherwise double the training time
OOS_TRAIN_CAP = 3000
NEAREST = 3


def features(proba: Array, similarities: Sequence[Array], support: Array) -> Array:
    """Rows of (log top p, log margin, nearest similarity, mean of 3 nearest, support)."""
    top2 = (
        -np.sort(-proba, axis=1)[:, :2]
        if proba.shape[1] > 1
        else np.hstack([proba, np.zeros((len(proba), 1))])
    )
    logp = np.log(np.clip(top2[:, 0], 1e-12, None))
    margin = logp - np.log(np.clip(top2[:, 1], 1e-12, None))
    nearest = np.array([float(s.max()) if len(s) else 0.0 for s in similarities])
    near3 = np.array([float(np.sort(s)[-NEAREST:].mean()) if len(s) else 0.0 for s in similarities])
    return np.column_stack([logp, np.minimum(margin, 20.0), nearest, near3, support])


def _fit(regression: Any, z: Array, right: Array, weight: Array, oos: int, tuned: Any) -> Any:
    """The logistic regression of ``right`` on the standardised features ``z``, whose last
    ``oos`` rows are the pseudo-out-of-scope examples. For a tuned encoder (``tuned``: the mask
    of the examples it was not tuned on) the coefficients are fitted with those rows weighing
    ``TUNED_RANK_WEIGHT`` (it separates unknown topics better: docs/nlu.md, round 3), then the
    probability is recalibrated on its logit with the rows at their ``OOS_WEIGHT`` (Platt), so
    that 0.5 keeps its meaning."""
    if tuned is None or not oos:
        return regression(C=1.0).fit(z, right, sample_weight=weight)
    ranked = weight.copy()
    ranked[len(ranked) - oos :] *= TUNED_RANK_WEIGHT / OOS_WEIGHT
    model = regression(C=1.0).fit(z, right, sample_weight=ranked)
    logit = z @ model.coef_[0] + model.intercept_[0]
    platt = regression(C=1e4).fit(logit[:, None], right, sample_weight=weight)
    scale, shift = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    if scale <= 0:  # no ranking left to recalibrate (degenerate data): the plain fit
        return regression(C=1.0).fit(z, right, sample_weight=weight)
    model.coef_ = model.coef_ * scale
    model.intercept_ = model.intercept_ * scale + shift
    return model


def support(
    tokens: Sequence[str], intent_words: set[str], idf: dict[str, float], top: float
) -> float:
    """The idf-weighted share of the distinct ``tokens`` found in ``intent_words``; a word
    without an idf (never seen in training) weighs ``top``."""
    distinct = set(tokens)
    if not distinct:
        return 0.0
    weights = {w: idf.get(w, top) for w in distinct}
    return sum(v for w, v in weights.items() if w in intent_words) / sum(weights.values())


def _supports(
    texts: Sequence[str],
    rows: Array,
    predicted: Array,
    train_rows: Array,
    truth: Array,
    idf: dict[str, float],
    top: float,
) -> Array:
    """``support`` of each of ``texts[rows]`` for its predicted intent, against the words of
    ``texts[train_rows]`` only (as a model trained on them would know them)."""
    by_intent: dict[int, set[str]] = {}
    for i in train_rows:
        by_intent.setdefault(int(truth[i]), set()).update(words(texts[int(i)]))
    seen = set().union(*by_intent.values()) if by_intent else set()
    fold_idf = {w: v for w, v in idf.items() if w in seen}
    return np.array(
        [
            support(words(texts[int(i)]), by_intent.get(int(p), set()), fold_idf, top)
            for i, p in zip(rows, predicted, strict=True)
        ]
    )


class InScope:
    """P(right) = sigmoid(w . z(features) + b); keeps the training examples' static vectors
    grouped by intent (float16) for the similarity features."""

    def __init__(
        self,
        stats: Array,
        coef: Array,
        vectors: Array,
        offsets: Array,
        words: Array,
        word_idf: Array,
        word_offsets: Array,
    ) -> None:
        self.stats = stats  # (3, 5): feature means, feature sds, [intercept, top idf, 0, 0, 0]
        self.coef = coef
        self.vectors = vectors  # training vectors sorted by intent
        self.offsets = offsets  # intent i's rows: offsets[i]:offsets[i + 1]
        self.words = words  # each intent's distinct training words, grouped as the vectors
        self.word_idf = word_idf
        self.word_offsets = word_offsets
        self.idf = {str(w): float(v) for w, v in zip(words, word_idf, strict=True)}
        self._intent_words: dict[int, set[str]] = {}
        # float16 on disk, float32 in memory: converting an intent's rows on every parse cost
        # milliseconds when an intent has thousands of examples (SNIPS)
        self._vectors32 = np.asarray(vectors, dtype=np.float32)

    def intent_words(self, intent: int) -> set[str]:
        found = self._intent_words.get(intent)
        if found is None:
            lo, hi = self.word_offsets[intent], self.word_offsets[intent + 1]
            found = self._intent_words[intent] = {str(w) for w in self.words[lo:hi]}
        return found

    def probability(self, rows: Array) -> Array:
        z = (rows - self.stats[0]) / self.stats[1]
        out: Array = 1.0 / (1.0 + np.exp(-(z @ self.coef + self.stats[2, 0])))
        return out

    def probability_one(self, proba: Array, vector: Array, text: str) -> float:
        """P(right) for one message from its probabilities, static vector and text."""
        best = int(np.argmax(proba))
        rows = self._vectors32[self.offsets[best] : self.offsets[best + 1]]
        # einsum, not BLAS: a matrix-vector product this small costs more in BLAS's thread
        # hand-offs than in arithmetic (milliseconds on a busy 2-core machine)
        sims = np.einsum("ij,j->i", rows, np.asarray(vector, dtype=np.float32))
        lexical = support(words(text), self.intent_words(best), self.idf, float(self.stats[2, 1]))
        feats = features(proba[None, :], [sims], np.array([lexical]))
        return float(self.probability(feats)[0])

    @classmethod
    def fit(
        cls,
        x: sp.csr_matrix,
        texts: Sequence[str],
        truth: Array,
        vectors: Array,
        classifier: LinearClassifier,
        idf: dict[str, float],
        *,
        c: float,
        balanced: bool,
        seed: int = 0,
        calibrate: Array | None = None,
    ) -> InScope | None:
        """From the training features, labels (indices into ``classifier.labels``), static
        vectors, the classifier's cross-validated scores and the words' idf; None without
        cross-validation. ``calibrate`` (a boolean mask) limits the examples whose scores the
        probability is fitted on, to those the vectors were not tuned on (nlu/tuning.py): a
        tuned example sits closer to its intent than any new message will."""
        if classifier.cv_scores is None:
            return None
        top = float(np.log(1 + len(texts)) + 1)  # the idf of a word no training text has
        rows, right, weight = cls._in_scope_rows(texts, truth, vectors, classifier, idf, top)
        oos = cls._pseudo_oos_rows(
            x, texts, truth, vectors, classifier, (c, balanced, seed), idf, top, calibrate
        )
        if calibrate is not None:
            rows, right, weight = rows[calibrate], right[calibrate], weight[calibrate]
        if len(oos):
            # OOS_WEIGHT of the in-scope rows fitted on, in total: of all the examples, or of
            # the share the encoder was not tuned on (weighing them against all the examples
            # made the pseudo-out-of-scope 25% of a tuned model's data, not 5%)
            share = OOS_WEIGHT * len(rows) / len(oos)
            rows = np.vstack([rows, oos])
            right = np.concatenate([right, np.zeros(len(oos))])
            weight = np.concatenate([weight, np.full(len(oos), share)])
        if right.min() == right.max():  # all right (or all wrong): nothing to learn
            return None
        from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

        mean, sd = rows.mean(axis=0), rows.std(axis=0)
        sd[sd == 0] = 1.0
        model = _fit(LogisticRegression, (rows - mean) / sd, right, weight, len(oos), calibrate)
        stats = np.vstack([mean, sd, np.zeros(5)])
        stats[2, :2] = float(model.intercept_[0]), top
        order = np.argsort(truth, kind="stable")
        offsets = np.searchsorted(truth[order], np.arange(len(classifier.labels) + 1))
        grouped = vectors[order].astype(np.float16)
        vocab: list[str] = []
        word_offsets = [0]
        for intent in range(len(classifier.labels)):
            found = {w for i in np.flatnonzero(truth == intent) for w in words(texts[int(i)])}
            vocab += sorted(found)
            word_offsets.append(len(vocab))
        word_idf = np.array([idf.get(w, top) for w in vocab])
        return cls(
            stats, model.coef_[0].astype(np.float64), grouped, offsets,
            np.array(vocab, dtype=str), word_idf, np.array(word_offsets),
        )  # fmt: skip

    @staticmethod
    def _in_scope_rows(
        texts: Sequence[str],
        truth: Array,
        vectors: Array,
        classifier: LinearClassifier,
        idf: dict[str, float],
        top: float,
    ) -> tuple[Array, Array, Array]:
        assert classifier.cv_scores is not None
        proba = softmax(classifier.cv_scores, classifier.temperature)
        predicted = proba.argmax(axis=1)
        n = len(truth)
        sims: list[Array] = [np.zeros(0)] * n
        lexical = np.zeros(n)
        for held in classifier.cv_folds:
            mask = np.ones(n, dtype=bool)
            mask[held] = False
            train_rows = np.flatnonzero(mask)
            lexical[held] = _supports(texts, held, predicted[held], train_rows, truth, idf, top)
            fold_sims = vectors[held] @ vectors[mask].T
            fold_truth = truth[mask]
            for row, i in enumerate(held):
                sims[i] = fold_sims[row][fold_truth == predicted[i]]
        rows = features(proba, sims, lexical)
        return rows, (predicted == truth).astype(float), np.ones(n)

    @staticmethod
    def _pseudo_oos_rows(
        x: sp.csr_matrix,
        texts: Sequence[str],
        truth: Array,
        vectors: Array,
        classifier: LinearClassifier,
        svm: tuple[float, bool, int],
        idf: dict[str, float],
        top: float,
        calibrate: Array | None = None,
    ) -> Array:
        n_labels = len(classifier.labels)
        if n_labels < 3:
            return np.zeros((0, 5))
        from nlu.classifier import _svm, _two_class_safe

        c, balanced, seed = svm
        order = np.random.default_rng(seed).permutation(n_labels)
        groups = [g for g in np.array_split(order, min(OOS_GROUPS, n_labels)) if len(g)]
        out = []
        rng = np.random.default_rng(seed)
        for group in groups:
            held = np.isin(truth, group)
            train_idx = np.flatnonzero(~held)
            if calibrate is not None:
                held &= calibrate
            if len(train_idx) > OOS_TRAIN_CAP:
                train_idx = np.sort(rng.choice(train_idx, OOS_TRAIN_CAP, replace=False))
            kept = np.unique(truth[train_idx])
            if len(kept) < 2:
                continue
            if not held.any():
                continue
            model = _svm(c, balanced).fit(x[train_idx], truth[train_idx])
            coef, intercept = _two_class_safe(model, n_labels, present=kept)
            scores = np.asarray(x[held] @ coef.T + intercept)[:, kept]
            proba = softmax(scores, classifier.temperature)
            predicted = kept[proba.argmax(axis=1)]
            held_idx = np.flatnonzero(held)
            sims = vectors[held_idx] @ vectors[train_idx].T
            train_truth = truth[train_idx]
            similarities = [sims[r][train_truth == predicted[r]] for r in range(len(held_idx))]
            lexical = _supports(texts, held_idx, predicted, train_idx, truth, idf, top)
            out.append(features(proba, similarities, lexical))
        return np.vstack(out) if out else np.zeros((0, 5))

    def arrays(self) -> dict[str, Array]:
        return {
            "inscope_stats": self.stats,
            "inscope_coef": self.coef,
            "inscope_vectors": self.vectors,
            "inscope_offsets": self.offsets,
            "inscope_words": self.words,
            "inscope_word_idf": self.word_idf,
            "inscope_word_offsets": self.word_offsets,
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
            arrays["inscope_words"],
            arrays["inscope_word_idf"],
            arrays["inscope_word_offsets"],
        )
