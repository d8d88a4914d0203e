"""Find the entries that answer a question: TF-IDF cosine (word 1-2-grams and character
3-5-grams inside words, fitted on the knowledge base itself) fused with an optional sentence
encoder's cosine. Deterministic, CPU only, no network.

An entry's score is the best match over its question and phrasings, blended with the match
against its answer text (weights in ``Weights``, chosen on covid-faq: benchmarks/kb_retrieval.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped,unused-ignore]
from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]

from nlu.knowledge.entries import Entry

Array = np.ndarray[Any, np.dtype[Any]]
Encoder = Callable[[Sequence[str]], Array]  # unit-length sentence vectors, one row per text
_DIGITS = re.compile(r"\d")


@dataclass(frozen=True, slots=True)
class Weights:
    answer: float = 0.3  # of the answer text's similarity against the questions'
    dense: float = 0.5  # of the encoder's cosine against TF-IDF's, when there is an encoder


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    entry: Entry
    score: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Retrieval:
    """The best candidates, best first; ``answer`` is the first when it reaches the
    threshold, else None (the bot would not answer)."""

    text: str
    candidates: tuple[Candidate, ...]
    threshold: float

    @property
    def answer(self) -> Candidate | None:
        best = self.candidates[0] if self.candidates else None
        return best if best is not None and best.score >= self.threshold else None

    def as_json(self) -> dict[str, Any]:
        """The ``frontdesk kb ask`` line format."""
        best = self.answer
        top = self.candidates[0] if self.candidates else None
        return {
            "text": self.text,
            "id": best.entry.id if best else None,
            "score": round(top.score, 4) if top else 0.0,
            "source": best.entry.source if best else None,
            "candidates": [{"id": c.entry.id, "score": round(c.score, 4)} for c in self.candidates],
        }


def _normal(text: str) -> str:
    return _DIGITS.sub("0", text.lower())


class _Tfidf:
    def __init__(self, corpus: Sequence[str]) -> None:
        self.words = TfidfVectorizer(
            preprocessor=_normal,
            ngram_range=(1, 2),
            sublinear_tf=True,
            token_pattern=r"(?u)\b\w+\b",
        )
        self.chars = TfidfVectorizer(
            preprocessor=_normal, analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True
        )
        self.words.fit(corpus)
        self.chars.fit(corpus)

    def vectors(self, texts: Sequence[str]) -> Any:
        both = sp.hstack([self.words.transform(texts), self.chars.transform(texts)]).tocsr()
        norms = np.sqrt(np.asarray(both.multiply(both).sum(axis=1))).ravel()
        norms[norms == 0] = 1.0
        return sp.diags(1.0 / norms) @ both


class Retriever:
    """Built once per version of the knowledge base (hot reload builds a new one)."""

    def __init__(
        self,
        entries: Sequence[Entry],
        *,
        threshold: float,
        encoder: Encoder | None = None,
        weights: Weights = Weights(),
        top: int = 3,
    ) -> None:
        self.entries = list(entries)
        self.threshold = threshold
        self.encoder = encoder
        self.weights = weights
        self.top = top
        texts: list[str] = []
        owners: list[int] = []
        for i, entry in enumerate(self.entries):
            for text in entry.texts():
                texts.append(text)
                owners.append(i)
        self.owners = np.asarray(owners, dtype=np.int64)
        answers = [f"{e.question}\n{e.answer}" for e in self.entries]
        self.tfidf = _Tfidf(texts + answers) if texts else None
        if self.tfidf is not None:
            self.question_vectors = self.tfidf.vectors(texts)
            self.answer_vectors = self.tfidf.vectors(answers)
        self.dense_questions: Array | None = None
        self.dense_answers: Array | None = None
        if encoder is not None and texts:
            self.dense_questions = np.asarray(encoder(texts), dtype=np.float32)
            self.dense_answers = np.asarray(encoder(answers), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.entries)

    def scores(self, questions: Sequence[str]) -> Array:
        """One row per question, one column per entry."""
        n = len(self.entries)
        if self.tfidf is None or not questions:
            return np.zeros((len(questions), n))
        q = self.tfidf.vectors(questions)
        lexical = self._fold(
            (q @ self.question_vectors.T).toarray(), (q @ self.answer_vectors.T).toarray()
        )
        if self.encoder is None or self.dense_questions is None or self.dense_answers is None:
            return lexical
        d = np.asarray(self.encoder(questions), dtype=np.float32)
        dense = self._fold(d @ self.dense_questions.T, d @ self.dense_answers.T)
        w = self.weights.dense
        return np.asarray((1 - w) * lexical + w * dense)

    def _fold(self, by_text: Array, by_answer: Array) -> Array:
        """The best text of each entry, blended with its answer."""
        best = np.zeros((by_text.shape[0], len(self.entries)))
        np.maximum.at(best.T, self.owners, by_text.T)
        w = self.weights.answer
        return np.asarray((1 - w) * best + w * by_answer)

    def ask_many(self, questions: Sequence[str]) -> list[Retrieval]:
        scores = self.scores(questions)
        out = []
        for text, row in zip(questions, scores, strict=True):
            order = np.argsort(-row, kind="stable")[: self.top]
            candidates = tuple(
                Candidate(entry=self.entries[i], score=float(row[i])) for i in order if row[i] > 0
            )
            out.append(Retrieval(text=text, candidates=candidates, threshold=self.threshold))
        return out

    def ask(self, question: str) -> Retrieval:
        return self.ask_many([question])[0]
