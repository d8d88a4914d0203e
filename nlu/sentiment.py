"""A sentiment score per message in [-1, 1] (VADER's compound score), for escalation rules.

VADER's time grows with the square of the text's length (8k characters: 0.13 s, 64k: 8 s), so a
long text is scored in pieces of at most ``PIECE_CHARS`` characters, cut at white space, and the
pieces' scores are averaged by length: linear time, and the same score as before for a text of
one piece.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

PIECE_CHARS = 500


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import (  # type: ignore[import-untyped]
        SentimentIntensityAnalyzer,
    )

    return SentimentIntensityAnalyzer()


def sentiment(text: str) -> float:
    """Negative for angry or unhappy messages, positive for happy ones, 0 for neutral."""
    if not text.strip():
        return 0.0
    pieces = _pieces(text)
    scores = [_analyzer().polarity_scores(p)["compound"] for p in pieces]
    return float(sum(s * len(p) for s, p in zip(scores, pieces, strict=True))) / sum(
        len(p) for p in pieces
    )


def _pieces(text: str) -> list[str]:
    """``text`` cut at white space into pieces of at most PIECE_CHARS characters (a run
    without white space is cut where it must)."""
    pieces: list[str] = []
    for word in re.findall(r"\S+", text):
        while len(word) > PIECE_CHARS:
            pieces.append(word[:PIECE_CHARS])
            word = word[PIECE_CHARS:]
        if pieces and len(pieces[-1]) + 1 + len(word) <= PIECE_CHARS:
            pieces[-1] += " " + word
        else:
            pieces.append(word)
    return pieces or [text]
