"""A sentiment score per message in [-1, 1] (VADER's compound score), for escalation rules."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


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
    return float(_analyzer().polarity_scores(text)["compound"])
