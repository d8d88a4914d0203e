"""What every NLU backend returns for one message, and the backend contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class IntentScore:
    name: str
    confidence: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Entity:
    entity: str
    value: Any  # normalised value (synonyms applied; numbers as int/float)
    text: str  # the words in the message
    start: int
    end: int
    role: str | None = None
    group: str | None = None
    extractor: str = "builtin"  # regex, lookup, learned, builtin (numbers, emails, …), rasa


@dataclass(frozen=True, slots=True, kw_only=True)
class ParseResult:
    """``intent`` is None when the message is not understood (below the threshold, or the
    ``out_of_scope`` intent). ``ranking`` is best first; ``sentiment`` is in [-1, 1]."""

    text: str
    intent: str | None
    confidence: float
    ranking: tuple[IntentScore, ...] = ()
    entities: tuple[Entity, ...] = ()
    sentiment: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """The ``frontdesk nlu parse`` line format."""
        return {
            "text": self.text,
            "intent": self.intent,
            "confidence": round(self.confidence, 4),
            "ranking": [
                {"name": s.name, "confidence": round(s.confidence, 4)} for s in self.ranking
            ],
            "entities": [
                {
                    "entity": e.entity,
                    "value": e.value,
                    "text": e.text,
                    "start": e.start,
                    "end": e.end,
                    **({"role": e.role} if e.role else {}),
                    **({"group": e.group} if e.group else {}),
                    "extractor": e.extractor,
                }
                for e in self.entities
            ],
            "sentiment": round(self.sentiment, 4),
        }


class NluBackend(Protocol):
    async def parse(self, text: str) -> ParseResult: ...
