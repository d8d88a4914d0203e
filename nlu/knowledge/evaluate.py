"""``frontdesk kb eval``: how well the knowledge base answers a labelled set of questions —
top-1 / top-3 hit rates, and at each threshold how many questions it would answer
(coverage) and how many of those answers are right (precision)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nlu.knowledge.retrieval import Retrieval, Retriever

THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 19))


@dataclass(frozen=True, slots=True)
class Point:
    threshold: float
    coverage: float  # share of the questions answered
    precision: float  # share of the given answers that are right
    answered: int


@dataclass(frozen=True, slots=True)
class KbReport:
    questions: int
    answerable: int  # questions labelled with an id the knowledge base has
    top1: float
    top3: float
    threshold: float
    at_threshold: Point
    tradeoff: tuple[Point, ...]

    def as_json(self) -> dict[str, Any]:
        def point(p: Point) -> dict[str, Any]:
            return {"threshold": p.threshold, "coverage": round(p.coverage, 4),
                    "precision": round(p.precision, 4), "answered": p.answered}  # fmt: skip

        return {
            "questions": self.questions,
            "answerable": self.answerable,
            "top1": round(self.top1, 4),
            "top3": round(self.top3, 4),
            "threshold": self.threshold,
            "at_threshold": point(self.at_threshold),
            "tradeoff": [point(p) for p in self.tradeoff],
        }


def _point(results: Sequence[Retrieval], gold: Sequence[frozenset[str]], t: float) -> Point:
    given = [(r, g) for r, g in zip(results, gold, strict=True)
             if r.candidates and r.candidates[0].score >= t]  # fmt: skip
    right = sum(1 for r, g in given if r.candidates[0].entry.id in g)
    n = max(len(results), 1)
    return Point(t, len(given) / n, right / len(given) if given else 1.0, len(given))


def evaluate(
    retriever: Retriever, texts: Sequence[str], gold: Sequence[frozenset[str]]
) -> KbReport:
    """``gold[i]``: the ids that answer ``texts[i]`` (any of them counts as a hit). A question
    whose ids are none of the knowledge base's (such as -1) should not be answered: it counts
    against precision when it is, and is left out of the hit rates."""
    known = {e.id for e in retriever.entries}
    gold = [g & known for g in gold]
    results = retriever.ask_many(texts)
    answerable = [(r, g) for r, g in zip(results, gold, strict=True) if g]
    n = max(len(answerable), 1)
    top1 = sum(1 for r, g in answerable if r.candidates and r.candidates[0].entry.id in g)
    top3 = sum(1 for r, g in answerable if any(c.entry.id in g for c in r.candidates[:3]))
    threshold = retriever.threshold
    return KbReport(
        questions=len(texts),
        answerable=len(answerable),
        top1=top1 / n,
        top3=top3 / n,
        threshold=threshold,
        at_threshold=_point(results, gold, threshold),
        tradeoff=tuple(_point(results, gold, t) for t in THRESHOLDS),
    )


def format_report(report: KbReport) -> str:
    p = report.at_threshold
    lines = [
        f"questions        {report.questions} ({report.answerable} with an answer in the "
        "knowledge base)",
        f"top-1 hit rate   {report.top1:.3f}   (of the answerable questions)",
        f"top-3 hit rate   {report.top3:.3f}",
        f"at threshold {report.threshold:.2f}: answers {p.answered} ({p.coverage:.1%}), "
        f"{p.precision:.1%} of them right",
        "",
        "threshold  answered  right",
    ]
    for q in report.tradeoff:
        mark = "  <- configured" if abs(q.threshold - report.threshold) < 1e-9 else ""
        lines.append(f"  {q.threshold:.2f}     {q.coverage:6.1%}  {q.precision:6.1%}{mark}")
    return "\n".join(lines)
