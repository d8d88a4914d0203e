"""Measures a trained model on labelled examples: accuracy, macro-F1, per-intent precision and
recall, the most confused pairs, out-of-scope recall, calibration and parse latency; and
cross-validation."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_fscore_support  # type: ignore[import-untyped]

from nlu.data import OUT_OF_SCOPE, NluData
from nlu.model import BuiltinNlu, TrainOptions, train
from nlu.result import ParseResult

NOT_UNDERSTOOD = OUT_OF_SCOPE  # a "not understood" answer counts as the out_of_scope label


@dataclass(frozen=True, slots=True, kw_only=True)
class IntentFigures:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    examples: int
    accuracy: float
    macro_f1: float
    in_scope_accuracy: float
    not_understood_rate: float  # of the in-scope examples
    out_of_scope_recall: float | None  # None when the test set marks no out_of_scope example
    out_of_scope_examples: int
    # calibration of the top confidence against "the top-ranked intent is right" (all
    # examples, threshold ignored): the mean confidence, the share right, and the expected
    # calibration error (10 equal-width bins): 0 is perfectly calibrated
    mean_confidence: float
    top_accuracy: float
    calibration_error: float
    train_seconds: float
    parse_p50_ms: float
    parse_p99_ms: float
    per_intent: dict[str, IntentFigures] = field(default_factory=dict)
    confused: list[tuple[str, str, int]] = field(default_factory=list)  # truth, predicted, n
    # threshold -> in-scope accuracy, out-of-scope recall (None without out-of-scope examples)
    tradeoff: list[tuple[float, float, float | None]] = field(default_factory=list)
    predicted: list[str | None] = field(default_factory=list)  # per example; not in the JSON

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        del out["predicted"]
        out["confused"] = [{"intent": t, "predicted": p, "count": n} for t, p, n in self.confused]
        out["tradeoff"] = [
            {"threshold": t, "in_scope_accuracy": a, "out_of_scope_recall": r}
            for t, a, r in self.tradeoff
        ]
        return out


def calibration(confidences: Sequence[float], right: Sequence[bool]) -> tuple[float, float, float]:
    """(mean confidence, share right, expected calibration error over 10 bins)."""
    if not confidences:
        return 0.0, 0.0, 0.0
    conf = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(right, dtype=np.float64)
    bins = np.minimum((conf * 10).astype(int), 9)
    error = sum(
        abs(float(conf[bins == b].mean()) - float(ok[bins == b].mean())) * float(np.mean(bins == b))
        for b in np.unique(bins)
    )
    return float(conf.mean()), float(ok.mean()), error


CURVE = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def tradeoff(
    truth: Sequence[str],
    answers: Sequence[tuple[str | None, float]],
    known: set[str],
    thresholds: Sequence[float] = CURVE,
) -> list[tuple[float, float, float | None]]:
    """For each threshold: the in-scope accuracy ("not understood" is wrong) and the share of
    out-of-scope examples (``out_of_scope``, or an intent the model was not trained on) that
    come out "not understood". ``answers``: the intent at threshold 0 (None: out_of_scope or
    refused by the novelty score) and the top confidence, per example."""
    oos = np.array([t == OUT_OF_SCOPE or t not in known for t in truth], dtype=bool)
    conf = np.array([c for _, c in answers])
    right = np.array([a is not None and a == t for (a, _), t in zip(answers, truth, strict=True)])
    answered = np.array([a is not None for a, _ in answers])
    out: list[tuple[float, float, float | None]] = []
    for t in thresholds:
        yes = answered & (conf >= t)
        accuracy = float((right & yes)[~oos].mean()) if (~oos).any() else 0.0
        recall = float((~yes)[oos].mean()) if oos.any() else None
        out.append((float(t), accuracy, recall))
    return out


def score(
    truth: Sequence[str],
    predicted: Sequence[str | None],
    *,
    top: Sequence[tuple[str, float]] = (),
    train_seconds: float = 0.0,
    latencies: Sequence[float] = (),
    top_confused: int = 10,
    curve: list[tuple[float, float, float | None]] | None = None,
) -> Report:
    """Figures for predictions, ``None`` meaning "not understood"; ``top`` is the top-ranked
    intent and its confidence for each example (for the calibration figures)."""
    pred = [NOT_UNDERSTOOD if p is None else p for p in predicted]
    pairs = list(zip(truth, pred, strict=True))
    labels = sorted(set(truth))
    per_intent: dict[str, IntentFigures] = {}
    if pairs:
        figures = precision_recall_fscore_support(
            list(truth), pred, labels=labels, average=None, zero_division=0.0
        )
        for label, precision, recall, f1, support in zip(labels, *figures, strict=True):
            per_intent[label] = IntentFigures(
                precision=float(precision), recall=float(recall), f1=float(f1), support=int(support)
            )
    in_scope = [(t, p) for t, p in pairs if t != OUT_OF_SCOPE]
    oos = [(t, p) for t, p in pairs if t == OUT_OF_SCOPE]
    confused = Counter((t, p) for t, p in pairs if t != p)
    ms = np.array(latencies) * 1000 if latencies else np.zeros(1)
    mean_confidence, top_accuracy, calibration_error = calibration(
        [c for _, c in top], [name == t for (name, _), t in zip(top, truth, strict=bool(top))]
    )
    return Report(
        examples=len(pairs),
        accuracy=sum(t == p for t, p in pairs) / len(pairs) if pairs else 0.0,
        macro_f1=float(np.mean([f.f1 for f in per_intent.values()])) if per_intent else 0.0,
        in_scope_accuracy=sum(t == p for t, p in in_scope) / len(in_scope) if in_scope else 0.0,
        not_understood_rate=(
            sum(p == NOT_UNDERSTOOD for _, p in in_scope) / len(in_scope) if in_scope else 0.0
        ),
        out_of_scope_recall=sum(p == NOT_UNDERSTOOD for _, p in oos) / len(oos) if oos else None,
        out_of_scope_examples=len(oos),
        mean_confidence=mean_confidence,
        top_accuracy=top_accuracy,
        calibration_error=calibration_error,
        train_seconds=train_seconds,
        parse_p50_ms=float(np.percentile(ms, 50)),
        parse_p99_ms=float(np.percentile(ms, 99)),
        per_intent=per_intent,
        confused=[(t, p, n) for (t, p), n in confused.most_common(top_confused)],
        tradeoff=curve or [],
        predicted=list(predicted),
    )


def latencies(nlu: BuiltinNlu, texts: Sequence[str], limit: int = 1000) -> list[float]:
    """Seconds for each single ``parse`` (the whole result: intent, entities, sentiment)."""
    for text in texts[:20]:  # warm-up
        nlu.parse(text)
    out = []
    for text in texts[:limit]:
        started = time.perf_counter()
        nlu.parse(text)
        out.append(time.perf_counter() - started)
    return out


def evaluate(nlu: BuiltinNlu, test: NluData, *, latency_sample: int = 1000) -> Report:
    texts = [e.text for e in test.examples]
    truth = [e.intent for e in test.examples]
    answers = _answers(nlu, texts)
    return score(
        truth,
        [_at(a, nlu.threshold) for a in answers],
        top=[(name, c) for _, c, name in answers],
        train_seconds=nlu.train_seconds,
        latencies=latencies(nlu, texts, latency_sample),
        curve=tradeoff(truth, [(a, c) for a, c, _ in answers], set(nlu.intents)),
    )


def _answers(nlu: BuiltinNlu, texts: Sequence[str]) -> list[tuple[str | None, float, str]]:
    """(intent at threshold 0, top confidence, top-ranked intent) for each text."""
    threshold = nlu.threshold
    nlu.threshold = 0.0
    try:
        results = nlu.parse_many(texts)
    finally:
        nlu.threshold = threshold
    return [(r.intent, _top(r)[1], _top(r)[0]) for r in results]


def _at(answer: tuple[str | None, float, str], threshold: float) -> str | None:
    intent, confidence, _ = answer
    return intent if confidence >= threshold else None


def cross_validate(
    data: NluData,
    *,
    folds: int = 5,
    options: TrainOptions | None = None,
    threshold: float = 0.5,
    seed: int = 0,
) -> Report:
    """Stratified k-fold: every example is predicted by a model that did not see it."""
    from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]

    examples = data.examples
    truth = [e.intent for e in examples]
    folds = max(2, min(folds, min(Counter(truth).values())))
    predicted: list[str | None] = [None] * len(examples)
    top: list[tuple[str, float]] = [("", 0.0)] * len(examples)
    answers: list[tuple[str | None, float]] = [(None, 0.0)] * len(examples)
    seconds = 0.0
    timings: list[float] = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(np.zeros(len(truth)), truth):
        part = NluData(
            examples=[examples[i] for i in train_idx],
            synonyms=data.synonyms,
            regexes=data.regexes,
            lookups=data.lookups,
        )
        nlu = train(part, options, threshold=threshold)
        seconds += nlu.train_seconds
        texts = [examples[i].text for i in test_idx]
        for i, (intent, confidence, name) in zip(test_idx, _answers(nlu, texts), strict=True):
            predicted[i] = _at((intent, confidence, name), threshold)
            top[i] = (name, confidence)
            answers[i] = (intent, confidence)
        timings += latencies(nlu, texts, 200)
    curve = tradeoff(truth, answers, set(truth) - {OUT_OF_SCOPE})
    return score(
        truth, predicted, top=top, train_seconds=seconds / folds, latencies=timings, curve=curve
    )


def _top(result: ParseResult) -> tuple[str, float]:
    return (result.ranking[0].name, result.confidence) if result.ranking else ("", 0.0)


def format_report(report: Report, per_intent: bool = True) -> str:
    lines = [
        f"examples            {report.examples}",
        f"intent accuracy     {report.accuracy:.2%}",
        f"macro-F1            {report.macro_f1:.4f}",
        f"in-scope accuracy   {report.in_scope_accuracy:.2%}"
        f"  (not understood: {report.not_understood_rate:.2%})",
    ]
    if report.out_of_scope_recall is not None:
        lines.append(
            f"out-of-scope recall {report.out_of_scope_recall:.2%}"
            f"  ({report.out_of_scope_examples} examples)"
        )
    if report.examples:
        lines.append(
            f"calibration         mean confidence {report.mean_confidence:.2%}, top intent "
            f"right {report.top_accuracy:.2%}, ECE {report.calibration_error:.4f}"
        )
    lines += [
        f"training time       {report.train_seconds:.2f} s",
        f"parse latency       p50 {report.parse_p50_ms:.3f} ms, p99 {report.parse_p99_ms:.3f} ms",
    ]
    if per_intent:
        width = max((len(name) for name in report.per_intent), default=6)
        lines += ["", f"{'intent':<{width}}  precision  recall     f1  support"]
        for name, f in sorted(report.per_intent.items()):
            lines.append(
                f"{name:<{width}}  {f.precision:9.3f}  {f.recall:6.3f}  {f.f1:5.3f}  {f.support:7d}"
            )
    if report.tradeoff:
        lines += ["", "threshold  in-scope accuracy  out-of-scope recall"]
        lines += [
            f"{t:9.2f}  {a:17.2%}  {'-' if r is None else f'{r:.2%}':>19}"
            for t, a, r in report.tradeoff
        ]
    if report.confused:
        lines += ["", "most confused (intent -> predicted: count)"]
        lines += [f"  {t} -> {p}: {n}" for t, p, n in report.confused]
    return "\n".join(lines)
