"""The built-in NLU: trains from NluData, parses one message into a ParseResult, and saves
and loads itself under ``nlu.model_dir`` keyed by a hash of the data and training options
(JSON + numpy .npz, no pickles), so that a start with unchanged data loads instead of training."""

from __future__ import annotations

import asyncio
import glob
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped,unused-ignore]

from common.logging import get_logger
from nlu.classifier import LinearClassifier
from nlu.data import OUT_OF_SCOPE, NluData
from nlu.settings import NluSettings

if TYPE_CHECKING:
    from nlu.embeddings import Novelty
from nlu.entities import EntityExtractor
from nlu.featurize import Featurizer
from nlu.importer import read_any
from nlu.inscope import InScope
from nlu.result import IntentScore, ParseResult
from nlu.sentiment import sentiment
from nlu.tuning import TopLayers

MODEL_FORMAT = 6  # 2: word-pair features; 3: static embedding, in-scope probability;
# 4: the in-scope similarities from the sentence encoder's vectors with hybrid/embeddings;
# 5: the encoder's tuned top layers; 6: the in-scope probability of a tuned model re-fitted
RANKING_LENGTH = 10


def _log() -> Any:
    return get_logger(channel="nlu")  # bound when used: after the CLI configured logging


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainOptions:
    """Everything besides the data that changes the trained model (part of its cache key)."""

    # static: TF-IDF + the static word-piece embedding shipped in the package
    # (nlu/static_embedding.py) weighted ``static_weight``; hybrid: TF-IDF + the MiniLM
    # sentence embedding weighted ``hybrid_weight`` (nlu/encoder.py, onnxruntime, no torch);
    # embeddings: the same with weight ``embedding_weight``; tfidf: TF-IDF alone (this class's
    # default, for library callers; the gateway's is nlu.classifier, hybrid since 0.3)
    classifier: Literal["static", "tfidf", "embeddings", "hybrid"] = "tfidf"
    # the SVM's regularisation and the embeddings' weight, chosen on dev splits of HWU64's
    # and SNIPS' training data (benchmarks/nlu_tune.py); C from 0.25 to 2 is within noise
    c: float = 1.0
    embeddings_c: float = 1.0
    balanced: bool = True
    embedding_weight: float = 1.0
    hybrid_weight: float = 2.0  # chosen on HWU64 few-shot training samples (docs/nlu.md)
    # 2 is a point more accurate on HWU64 few-shot dev splits, but pulls messages towards an
    # intent by meaning alone: the example bot then takes "is there a warranty?" for "legal"
    # (and hands off) instead of leaving it to the knowledge base; 1 does not (docs/nlu.md)
    static_weight: float = 1.0
    # the classifier uses the static embedding's first (principal) components only: as
    # accurate as all 256 on HWU64 dev splits, and the SVM trains twice as fast
    static_dims: int = 128
    # inscope: the confidence compared with ``nlu.threshold`` is a calibrated P(the top intent
    # is right), fitted by cross-validation with pseudo-out-of-scope intents (nlu/inscope.py);
    # temperature: the top probability of the temperature-scaled softmax (before 0.2)
    confidence: Literal["inscope", "temperature"] = "temperature"
    # "embeddings": a message also needs an in-scope score (top probability and similarity to
    # the predicted intent's examples, nlu/embeddings.py) above a threshold that costs at most
    # ``novelty_budget`` of the right answers on the cross-validated training data
    novelty: Literal["none", "embeddings"] = "none"
    # contrastive: before fitting, tune the sentence encoder's top layers on the examples
    # (nlu/tuning.py, SetFit-style; the hybrid/embeddings classifiers only); none: as shipped
    tuning: Literal["none", "contrastive"] = "none"
    tuning_steps: int = 120  # at most
    # the share of each intent's examples kept out of the tuning, on which the in-scope
    # probability is fitted (a tuned example is closer to its intent than a new message)
    tuning_holdout: float = 0.2
    novelty_budget: float = 0.03  # chosen on pseudo-out-of-scope dev splits of training data
    text_column: str = "text"  # for CSV training files
    intent_columns: tuple[str, ...] = ("intent",)


def _uses_vectors(options: TrainOptions) -> bool:
    """Whether the classifier's features include the sentence embedding."""
    return options.classifier in ("embeddings", "hybrid")


def _weight(options: TrainOptions) -> float:
    return options.hybrid_weight if options.classifier == "hybrid" else options.embedding_weight


def _tunes(options: TrainOptions) -> bool:
    return _uses_vectors(options) and options.tuning == "contrastive"


def _encode(texts: Sequence[str], top: TopLayers | None) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Sentence vectors: the shipped encoder's, or through its tuned top layers."""
    if top is None:
        from nlu.embeddings import encode

        return encode(texts)
    from nlu.encoder import default_encoder

    return top.encode(default_encoder().states(texts))


def _calibration_share(labels: Sequence[str], share: float) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """A seeded ``share`` of each intent's examples (none of an intent with fewer than 3)."""
    rng = np.random.default_rng(0)
    out = np.zeros(len(labels), dtype=bool)
    for label in sorted(set(labels)):
        rows = np.flatnonzero(np.array(labels) == label)
        if len(rows) >= 3 and share > 0:
            out[rng.choice(rows, max(1, round(share * len(rows))), replace=False)] = True
    return out


def _uses_static(options: TrainOptions) -> bool:
    """Whether the classifier's features or the in-scope probability use the static embedding
    (the in-scope probability's similarities use the sentence encoder's vectors instead when
    the classifier has them)."""
    return options.classifier == "static" or (
        options.confidence == "inscope" and not _uses_vectors(options)
    )


def _static(texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
    from nlu.static_embedding import encode

    return encode(texts)


def _leading(
    vectors: np.ndarray[Any, np.dtype[np.float32]], dims: int
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The first ``dims`` components, rows re-normalised to unit length."""
    head = vectors[:, :dims]
    norms = np.linalg.norm(head, axis=1, keepdims=True)
    out: np.ndarray[Any, np.dtype[np.float32]] = head / np.maximum(norms, 1e-12)
    return out


class BuiltinNlu:
    """A trained model. ``parse`` is synchronous and CPU-bound (well under a millisecond
    with the default classifier); ``BuiltinBackend`` wraps it as an ``NluBackend``."""

    def __init__(
        self,
        *,
        featurizer: Featurizer,
        classifier: LinearClassifier | None,
        extractor: EntityExtractor,
        options: TrainOptions,
        threshold: float = 0.5,
        key: str = "",
        train_seconds: float = 0.0,
        loaded: bool = False,
        novelty: Novelty | None = None,
        inscope: InScope | None = None,
        top: TopLayers | None = None,
    ) -> None:
        self.featurizer = featurizer
        self.top = top  # the encoder's tuned top layers, when tuning is on
        self.novelty = novelty
        self.inscope = inscope
        self.classifier = classifier
        self.extractor = extractor
        self.options = options
        self.threshold = threshold
        self.key = key
        self.train_seconds = train_seconds
        self.loaded = loaded  # True when read from the cache rather than trained

    @property
    def intents(self) -> list[str]:
        return list(self.classifier.labels) if self.classifier else []

    def _vectors(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]] | None:
        """Sentence embeddings when the classifier or the novelty score uses them."""
        if not _uses_vectors(self.options) and self.novelty is None:
            return None
        return _encode(texts, self.top)

    def _statics(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]] | None:
        return _static(texts) if _uses_static(self.options) else None

    def _dense(
        self,
        vectors: np.ndarray[Any, np.dtype[np.float32]] | None,
        statics: np.ndarray[Any, np.dtype[np.float32]] | None = None,
    ) -> np.ndarray[Any, np.dtype[np.float32]] | None:
        if self.options.classifier == "static" and statics is not None:
            return _leading(statics, self.options.static_dims) * self.options.static_weight
        if not _uses_vectors(self.options) or vectors is None:
            return None
        return vectors * _weight(self.options)

    def parse(self, text: str) -> ParseResult:
        vectors = self._vectors([text])
        vector = None if vectors is None else vectors[0]
        statics = self._statics([text])
        static = None if statics is None else statics[0]
        return self._result(text, self._proba_one(text, vector, static), vector, static)

    def parse_many(self, texts: Sequence[str]) -> list[ParseResult]:
        """Like ``parse`` for each text, batched (faster with the embeddings classifier)."""
        if self.classifier is None or not texts:
            return [self.parse(t) for t in texts]
        x = self.featurizer.transform(texts)
        empty = np.diff(x.indptr) == 0
        vectors = self._vectors(texts)
        statics = self._statics(texts)
        dense = self._dense(vectors, statics)
        if dense is not None:
            x = sp.hstack([x, sp.csr_matrix(dense)]).tocsr()
        proba = self.classifier.proba(x)
        if not _uses_vectors(self.options):  # no known word or character gram: no idea
            proba[empty] = 1.0 / len(self.classifier.labels)
        rows = [None] * len(texts) if vectors is None else list(vectors)
        stats = [None] * len(texts) if statics is None else list(statics)
        return [
            self._result(t, p, v, s) for t, p, v, s in zip(texts, proba, rows, stats, strict=True)
        ]

    def _proba_one(
        self,
        text: str,
        vector: np.ndarray[Any, np.dtype[np.float32]] | None,
        static: np.ndarray[Any, np.dtype[np.float32]] | None = None,
    ) -> np.ndarray[Any, np.dtype[Any]] | None:
        if self.classifier is None:
            return None
        cols, vals = self.featurizer.indices(text)
        dense = self._dense(
            None if vector is None else vector[None, :], None if static is None else static[None, :]
        )
        if not cols and not _uses_vectors(self.options):  # no known word or gram: no idea
            return np.full(len(self.classifier.labels), 1.0 / len(self.classifier.labels))
        return self.classifier.proba_one(cols, vals, None if dense is None else dense[0])

    def _result(
        self,
        text: str,
        proba: np.ndarray[Any, np.dtype[Any]] | None,
        vector: np.ndarray[Any, np.dtype[np.float32]] | None = None,
        static: np.ndarray[Any, np.dtype[np.float32]] | None = None,
    ) -> ParseResult:
        entities = self.extractor.extract(text)
        mood = sentiment(text)
        if proba is None or self.classifier is None:
            return ParseResult(text=text, intent=None, confidence=0.0, entities=entities,
                               sentiment=mood)  # fmt: skip
        order = np.argsort(-proba)[:RANKING_LENGTH]
        labels = self.classifier.labels
        ranking = tuple(IntentScore(name=labels[i], confidence=float(proba[i])) for i in order)
        best = ranking[0]
        confidence = best.confidence
        similar = vector if _uses_vectors(self.options) else static
        if self.inscope is not None and similar is not None:
            # the result's confidence is P(the top intent is right); the ranking stays the
            # intents' probabilities (they sum to 1)
            confidence = self.inscope.probability_one(proba, similar, text)
        understood = confidence >= self.threshold and best.name != OUT_OF_SCOPE
        if understood and self.novelty is not None and vector is not None:
            understood = self.novelty.understood(best.confidence, int(order[0]), vector)
        return ParseResult(
            text=text,
            intent=best.name if understood else None,
            confidence=confidence,
            ranking=ranking,
            entities=entities,
            sentiment=mood,
        )


# Texts up to this long are parsed on the event loop (well under a millisecond); longer ones in
# a thread, so that one long message does not hold up other conversations.
ON_LOOP_CHARS = 512


class BuiltinBackend:
    """``NluBackend`` for the built-in model."""

    def __init__(self, nlu: BuiltinNlu) -> None:
        self.nlu = nlu

    async def parse(self, text: str) -> ParseResult:
        vectors = _uses_vectors(self.nlu.options) or self.nlu.novelty is not None
        if vectors or len(text) > ON_LOOP_CHARS:
            # milliseconds of the sentence encoder, or of a long text: off the loop
            return await asyncio.to_thread(self.nlu.parse, text)
        return self.nlu.parse(text)


# --------------------------------------------------------------------------- training


def train(
    data: NluData, options: TrainOptions | None = None, *, threshold: float = 0.5, key: str = ""
) -> BuiltinNlu:
    options = options or TrainOptions()
    started = time.perf_counter()
    texts = [e.text for e in data.examples]
    labels = [e.intent for e in data.examples]
    featurizer = Featurizer().fit(texts)
    classifier = None
    novelty = None
    inscope = None
    top: TopLayers | None = None
    calibrate = np.zeros(len(labels), dtype=bool)
    if len(set(labels)) >= 2:
        x = featurizer.transform(texts)
        vectors = None
        if _uses_vectors(options) or options.novelty == "embeddings":
            if _tunes(options):
                from nlu.encoder import default_encoder
                from nlu.tuning import TuneOptions, tune

                states = default_encoder().states(texts)
                calibrate = _calibration_share(labels, options.tuning_holdout)
                tuned_on = np.flatnonzero(~calibrate)
                top = tune([states[i] for i in tuned_on], [labels[i] for i in tuned_on],
                           TuneOptions(max_steps=options.tuning_steps))  # fmt: skip
                vectors = top.encode(states)
            else:
                vectors = _encode(texts, None)
        if _uses_vectors(options) and vectors is not None:
            x = sp.hstack([x, sp.csr_matrix(vectors * _weight(options))]).tocsr()
        statics = _static(texts) if _uses_static(options) else None
        if options.classifier == "static" and statics is not None:
            dense = _leading(statics, options.static_dims) * options.static_weight
            x = sp.hstack([x, sp.csr_matrix(dense)]).tocsr()
        c = options.embeddings_c if _uses_vectors(options) else options.c
        classifier = LinearClassifier.fit(x, labels, c=c, balanced=options.balanced)
        if options.novelty == "embeddings" and vectors is not None:
            novelty = _fit_novelty(classifier, labels, vectors, options.novelty_budget)
        similar = vectors if _uses_vectors(options) else statics
        if options.confidence == "inscope" and similar is not None:
            index = {label: i for i, label in enumerate(classifier.labels)}
            truth = np.array([index[label] for label in labels])
            idf = {
                g[2:]: float(featurizer.idf[i])
                for g, i in featurizer.vocab.items()
                if g[:2] == "w:" and " " not in g
            }
            inscope = InScope.fit(
                x, texts, truth, similar, classifier, idf, c=c, balanced=options.balanced,
                calibrate=calibrate if top is not None and calibrate.any() else None,
            )  # fmt: skip
    else:
        _log().warning("nlu_not_trained", reason="fewer than two intents", intents=len(set(labels)))
    return BuiltinNlu(
        featurizer=featurizer,
        classifier=classifier,
        extractor=EntityExtractor.from_data(data),
        options=options,
        threshold=threshold,
        key=key,
        train_seconds=time.perf_counter() - started,
        novelty=novelty,
        inscope=inscope,
        top=top,
    )


def _fit_novelty(
    classifier: LinearClassifier,
    labels: Sequence[str],
    vectors: np.ndarray[Any, np.dtype[np.float32]],
    budget: float,
) -> Novelty | None:
    from nlu.classifier import softmax
    from nlu.embeddings import Novelty

    if classifier.cv_scores is None:  # too few examples for cross-validation
        _log().warning("nlu_novelty_not_fitted", reason="an intent has fewer than 2 examples")
        return None
    index = {label: i for i, label in enumerate(classifier.labels)}
    truth = np.array([index[label] for label in labels])
    proba = softmax(classifier.cv_scores, classifier.temperature)
    return Novelty.fit(vectors, truth, proba, classifier.cv_folds, budget)


# --------------------------------------------------------------------------- cache


def resolve_paths(patterns: Sequence[str | Path]) -> list[Path]:
    """Files matching the globs (or plain paths), sorted, without repeats."""
    found: set[Path] = set()
    for pattern in patterns:
        text = str(pattern)
        matches = glob.glob(text, recursive=True) if glob.has_magic(text) else [text]
        found.update(Path(m) for m in matches if Path(m).is_file())
    return sorted(found)


def cache_key(paths: Sequence[Path], options: TrainOptions) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps({"format": MODEL_FORMAT, **asdict(options)}).encode())
    for path in paths:
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:24]


def save(nlu: BuiltinNlu, directory: Path) -> None:
    """Write the model to ``directory`` atomically (a temporary folder, then a rename)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=directory.parent))
    try:
        meta = {
            "format": MODEL_FORMAT,
            "key": nlu.key,
            "options": asdict(nlu.options),
            "labels": nlu.intents,
            "train_seconds": nlu.train_seconds,
            "trained_at": time.time(),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        (tmp / "featurizer.json").write_text(json.dumps(nlu.featurizer.to_json()))
        (tmp / "entities.json").write_text(json.dumps(nlu.extractor.to_json()))
        arrays: dict[str, Any] = {"idf": nlu.featurizer.idf}
        if nlu.classifier is not None:
            arrays.update(nlu.classifier.arrays())
        if nlu.novelty is not None:
            arrays.update(nlu.novelty.arrays())
        if nlu.inscope is not None:
            arrays.update(nlu.inscope.arrays())
        if nlu.top is not None:
            arrays.update(nlu.top.arrays())
        np.savez(tmp / "weights.npz", **arrays)
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load(directory: Path, *, threshold: float = 0.5) -> BuiltinNlu:
    meta = json.loads((directory / "meta.json").read_text())
    if meta.get("format") != MODEL_FORMAT:
        raise ValueError(f"model format {meta.get('format')} is not {MODEL_FORMAT}")
    options = meta["options"]
    options["intent_columns"] = tuple(options["intent_columns"])
    with np.load(directory / "weights.npz", allow_pickle=False) as arrays:
        weights = {name: arrays[name] for name in arrays.files}
    labels = meta["labels"]
    novelty = None
    if "novelty_stats" in weights:
        from nlu.embeddings import Novelty

        novelty = Novelty.from_arrays(weights)
    return BuiltinNlu(
        featurizer=Featurizer.from_json(
            json.loads((directory / "featurizer.json").read_text()), weights["idf"]
        ),
        classifier=LinearClassifier.from_arrays(labels, weights) if labels else None,
        extractor=EntityExtractor.from_json(json.loads((directory / "entities.json").read_text())),
        options=TrainOptions(**options),
        threshold=threshold,
        key=meta["key"],
        train_seconds=float(meta["train_seconds"]),
        loaded=True,
        novelty=novelty,
        inscope=InScope.from_arrays(weights),
        top=TopLayers.from_arrays(weights) if TopLayers.stored(weights) else None,
    )


def load_or_train(
    source: NluSettings | Sequence[str | Path],
    *,
    model_dir: str | Path | None = None,
    threshold: float | None = None,
    options: TrainOptions | None = None,
) -> BuiltinNlu:
    """The model for ``settings.nlu`` (or for these files): loaded from the cache when the
    data and options are unchanged, else trained and saved. ``model_dir=""`` skips the cache."""
    if isinstance(source, NluSettings):
        patterns: Sequence[str | Path] = source.data
        model_dir = source.model_dir if model_dir is None else model_dir
        threshold = source.threshold if threshold is None else threshold
        options = options or TrainOptions(
            classifier=source.classifier,
            novelty=source.novelty,
            confidence=source.confidence,
            tuning=source.tuning,
        )
    else:
        patterns = source
    options = options or TrainOptions()
    threshold = 0.5 if threshold is None else threshold
    paths = resolve_paths(patterns)
    key = cache_key(paths, options)
    directory = Path(model_dir) / key if model_dir else None
    if directory is not None and (directory / "meta.json").exists():
        try:
            nlu = load(directory, threshold=threshold)
            _log().info("nlu_model_loaded", key=key, path=str(directory))
            return nlu
        except (OSError, ValueError, KeyError) as exc:
            _log().warning("nlu_model_unreadable", key=key, error=str(exc))
    data = read_any(paths, text_column=options.text_column, intent_columns=options.intent_columns)
    for problem in data.problems:
        _log().warning("nlu_data_problem", problem=str(problem))
    nlu = train(data, options, threshold=threshold, key=key)
    _log().info(
        "nlu_model_trained", key=key, examples=len(data.examples), intents=len(nlu.intents),
        seconds=round(nlu.train_seconds, 2),
    )  # fmt: skip
    if directory is not None:
        save(nlu, directory)
    return nlu
