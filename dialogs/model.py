"""The compiled, frozen form of a dialog directory: what the engine runs.

``dialogs.schema`` builds it from YAML (checking everything first); ``dialogs.engine`` reads it.
Each flow is a flat program: nested ``if``/``on_error``/``on_fail`` blocks become jumps, so a
conversation's position is a flow name and an instruction index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from dialogs.expressions import CompiledCondition, Text
from nlu.knowledge.base import KnowledgeBase
from nlu.knowledge.entries import Entry
from nlu.knowledge.generator import GeneratorSettings

# Variables every template and condition can read besides the slots.
RESERVED_NAMES = frozenset(
    {"customer_name", "channel", "intent", "confidence", "sentiment", "text", "http_status"}
    | {"kb_title", "kb_link"}  # the knowledge-base entry just answered (its source)
)
ESCALATION_TRIGGERS = ("keyword", "sentiment", "sensitive_intent", "slot_condition")


@dataclass(frozen=True, slots=True)
class ButtonSpec:
    title: Text
    payload: str


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    variants: tuple[Text, ...]
    buttons: tuple[ButtonSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class Choice:
    title: str
    payload: str
    value: Any


@dataclass(frozen=True, slots=True)
class HttpAction:
    """An HTTP call to the business's backend."""

    name: str
    url: Text
    method: str
    timeout: float
    body: Any  # JSON-like tree whose strings are Text
    save: tuple[tuple[str, tuple[str, ...]], ...]  # (slot, path in the JSON answer)


@dataclass(frozen=True, slots=True)
class Say:
    template: Template
    label: str


@dataclass(frozen=True, slots=True)
class Ask:
    slot: str
    prompt: Template
    entity: str | None
    regex: re.Pattern[str] | None
    choices: tuple[Choice, ...]
    validate: CompiledCondition | None
    invalid: Template | None
    attempts: int
    fail_pc: int | None  # first step of on_fail; None: hand off
    reuse: bool
    transform: str | None  # upper, lower
    label: str
    interruptible: bool = True  # another flow's question may interrupt it

    @property
    def free_text(self) -> bool:
        return self.entity is None and self.regex is None and not self.choices


@dataclass(frozen=True, slots=True)
class SetSlot:
    slot: str
    value: Any  # a constant, or Text rendered at run time
    label: str


@dataclass(frozen=True, slots=True)
class Branch:
    condition: CompiledCondition
    else_pc: int
    label: str


@dataclass(frozen=True, slots=True)
class Jump:
    pc: int
    label: str


@dataclass(frozen=True, slots=True)
class Call:
    action: HttpAction
    error_pc: int | None  # first step of on_error; None: go on with the next step
    label: str


@dataclass(frozen=True, slots=True)
class HandOffStep:
    reason: Text
    queue: str | None
    label: str


@dataclass(frozen=True, slots=True)
class End:
    label: str


@dataclass(frozen=True, slots=True)
class StartFlow:
    flow: str
    label: str


@dataclass(frozen=True, slots=True)
class KnowledgeStep:
    """Answer ``question`` from the knowledge base; ``miss_pc``: the ``on_miss`` branch."""

    question: Text
    miss_pc: int | None
    label: str


Instruction = (
    Say | Ask | SetSlot | Branch | Jump | Call | HandOffStep | End | StartFlow | KnowledgeStep
)


@dataclass(frozen=True, slots=True)
class Escalation:
    keywords: re.Pattern[str] | None = None
    sentiment_below: float | None = None
    intents: frozenset[str] = frozenset()
    when: tuple[CompiledCondition, ...] = ()
    queue: str | None = None


@dataclass(frozen=True, slots=True)
class Flow:
    name: str
    title: str
    steps: tuple[Instruction, ...]
    escalation: Escalation | None = None
    interrupts: bool = True  # may start in the middle of another flow's question
    suggested: bool = False  # offered in "Did you mean …?" (flows with a title)


@dataclass(frozen=True, slots=True)
class Bot:
    flows: dict[str, Flow]
    templates: dict[str, Template]
    slots: dict[str, Any]  # name -> initial value
    actions: dict[str, HttpAction]
    escalation: Escalation
    fallback_limit: int = 2
    cancel_words: frozenset[str] = frozenset({"cancel", "stop"})
    max_interruptions: int = 2
    suggest_min_confidence: float = 0.1
    # Triggers, resolved to flow names.
    intent_flows: dict[str, tuple[str, float]] = field(default_factory=dict)
    button_flows: dict[str, str] = field(default_factory=dict)
    pattern_flows: tuple[tuple[re.Pattern[str], str], ...] = ()  # keywords and regexes
    event_flows: dict[str, str] = field(default_factory=dict)
    version: str = ""  # a digest of the sources, for logs
    knowledge: Answers | None = None  # the knowledge base (dialogs.knowledge), when there is one


# --------------------------------------------------------------------------- conversation state


@dataclass(frozen=True, slots=True)
class Frame:
    flow: str
    pc: int
    key: str = ""  # the label of the step it waits at; "" after a reload changed the flow
    tries: int = 0


@dataclass(frozen=True, slots=True)
class DialogState:
    slots: dict[str, Any] = field(default_factory=dict)
    stack: tuple[Frame, ...] = ()
    fallbacks: int = 0
    seen: bool = False
    turn: int = 0
    http_status: int | None = None
    awaiting: str | None = None  # the HTTP action whose result the engine waits for
    # The knowledge-base answer waiting for "Did that answer …?": (entry id, the question)
    feedback: tuple[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        """The session's ``dialog`` value (slots are kept apart, in the session's slots)."""
        out: dict[str, Any] = {
            "v": 1,
            "stack": [[f.flow, f.pc, f.key, f.tries] for f in self.stack],
            "fallbacks": self.fallbacks,
            "seen": self.seen,
            "turn": self.turn,
        }
        if self.http_status is not None:
            out["http_status"] = self.http_status
        if self.awaiting is not None:
            out["awaiting"] = self.awaiting
        if self.feedback is not None:
            out["feedback"] = list(self.feedback)
        return out


def from_json(bot: Bot, data: Any, slots: dict[str, Any] | None = None) -> DialogState:
    """The state saved by ``to_json``, fitted to ``bot``: a frame whose flow is gone is dropped;
    a frame whose step moved follows it (same label); one whose step is gone restarts its
    flow. The bot's slot defaults fill slots the session has not set."""
    merged = {**bot.slots, **(slots or {})}
    if not isinstance(data, dict) or data.get("v") != 1:
        return DialogState(slots=merged, seen=bool(isinstance(data, dict) and data))
    stack: list[Frame] = []
    for item in data.get("stack", []):
        try:
            name, pc, key, tries = str(item[0]), int(item[1]), str(item[2]), int(item[3])
        except (TypeError, ValueError, IndexError):
            continue
        flow = bot.flows.get(name)
        if flow is None:
            continue
        steps = flow.steps
        if not (0 <= pc < len(steps) and steps[pc].label == key):
            moved = [i for i, s in enumerate(steps) if s.label == key and isinstance(s, Ask)]
            pc, tries = (moved[0], tries) if moved else (0, 0)
            key = key if moved else ""
        stack.append(Frame(name, pc, key, tries))
    # Only the top frame may restart; interrupted frames below it restart when resumed.
    return DialogState(
        slots=merged,
        stack=tuple(stack),
        fallbacks=int(data.get("fallbacks", 0)),
        seen=bool(data.get("seen", True)),
        turn=int(data.get("turn", 0)),
        http_status=data.get("http_status"),
        awaiting=data.get("awaiting"),
        feedback=_feedback(data.get("feedback")),
    )


def _feedback(value: Any) -> tuple[str, str] | None:
    if isinstance(value, list) and len(value) == 2:
        return str(value[0]), str(value[1])
    return None


@dataclass(frozen=True, slots=True)
class Answers:
    """The knowledge base compiled for the engine (dialogs/knowledge.py builds it)."""

    kb: KnowledgeBase
    templates: dict[str, Template]
    before_fallback: bool = True
    generator: GeneratorSettings | None = None  # knowledge.generator: openai

    def entry(self, ident: str) -> Entry | None:
        return self.kb.entries.get(ident)
