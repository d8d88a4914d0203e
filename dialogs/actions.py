"""What goes into the dialog engine (events) and what comes out of it (actions): plain,
frozen values, so that the engine stays pure and the runner does the I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from common.messages import Button


@dataclass(frozen=True, slots=True, kw_only=True)
class UserInput:
    text: str = ""
    payload: str | None = None
    channel: str = ""
    customer_name: str | None = None
    seed: int = 0  # picks template variants; the runner passes a random number


@dataclass(frozen=True, slots=True, kw_only=True)
class DialogEvent:
    name: Literal["handoff_returned"]
    channel: str = ""
    customer_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallResult:
    action: str
    ok: bool
    status: int  # HTTP status; 0 when there was no answer (timeout, connection refused)
    data: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class KnowledgeResult:
    """What the knowledge base found for a ``KnowledgeQuery``: ``answer`` is the entry id at or
    above the threshold, or None (a miss)."""

    text: str  # the question
    answer: str | None
    score: float = 0.0
    candidates: tuple[tuple[str, float], ...] = ()  # (entry id, score), best first
    threshold: float = 0.0  # the score an answer needs
    generated: str | None = None  # the generator's rephrased, cited answer (knowledge.generator)
    channel: str = ""
    customer_name: str | None = None


Event = UserInput | DialogEvent | CallResult | KnowledgeResult


@dataclass(frozen=True, slots=True, kw_only=True)
class SayAction:
    text: str
    buttons: tuple[Button, ...] = ()
    alternatives: tuple[str, ...] = ()  # every variant of the template, rendered
    handoff_notice: bool = False  # the handoff template: the announcement of a handoff


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpRequest:
    action: str
    method: str
    url: str
    body: Any
    timeout: float


@dataclass(frozen=True, slots=True, kw_only=True)
class HandOffAction:
    trigger: str
    reason: str
    queue: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Trace:
    flow: str | None
    step: str | None
    trigger: str | None = None  # what started the flow


@dataclass(frozen=True, slots=True, kw_only=True)
class KnowledgeQuery:
    """Ask the knowledge base ``question``; the runner answers with a ``KnowledgeResult``."""

    question: str


@dataclass(frozen=True, slots=True, kw_only=True)
class KnowledgeNote:
    """What happened with the knowledge base this turn, for metrics and the review inbox:
    ``answer`` (given), ``miss`` (nothing good enough), ``yes`` / ``no`` (the customer's
    feedback on the answer ``entry``)."""

    kind: Literal["answer", "miss", "yes", "no"]
    entry: str | None
    question: str
    score: float = 0.0
    candidates: tuple[tuple[str, float], ...] = ()
    threshold: float = 0.0


Action = SayAction | HttpRequest | HandOffAction | Trace | KnowledgeQuery | KnowledgeNote
