"""Compile flows (triggers and nested steps) into flat programs, and check each program: every
step reachable, every flow able to end, no loop that never waits for the customer.

Layout of the nested blocks (``n`` is the instruction after the block):
``if``: ``Branch(else) then… Jump(n) else…``; ``call``: ``Call(error) Jump(n) on_error…``;
``ask`` with ``on_fail``: ``Ask(fail) Jump(n) on_fail…``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from common.settings import Document, YamlPath
from dialogs.model import (
    Ask,
    Branch,
    ButtonSpec,
    Call,
    Choice,
    End,
    Flow,
    HandOffStep,
    Instruction,
    Jump,
    KnowledgeStep,
    Say,
    SetSlot,
    StartFlow,
    Template,
)
from dialogs.schema import EVENTS, Compiler, keyword_pattern

STEP_KEYS: dict[str, tuple[str, ...]] = {
    "say": (),
    "text": ("buttons",),
    "ask": (
        "prompt",
        "entity",
        "regex",
        "choices",
        "validate",
        "invalid",
        "attempts",
        "on_fail",
        "reuse",
        "transform",
        "interrupt",
    ),
    "set": (),
    "if": ("then", "else"),
    "call": ("on_error",),
    "handoff": ("queue",),
    "goto": (),
    "flow": (),
    "knowledge": ("on_miss",),
}
TRIGGER_KEYS = ("intent", "keywords", "regex", "button", "event")
Loc = tuple[Document, YamlPath]
EXIT = -1


class FlowCompiler:
    def __init__(self, c: Compiler) -> None:
        self.c = c
        self.intent_flows: dict[str, tuple[str, float]] = {}
        self.button_flows: dict[str, str] = {}
        self.pattern_flows: list[tuple[re.Pattern[str], str]] = []
        self.event_flows: dict[str, str] = {}
        self.locs: dict[str, list[Loc | None]] = {}
        self.flow_locs: dict[str, Loc] = {}
        self.triggered: set[str] = set()
        self.referenced: set[str] = set()

    def flow(self, name: str, doc: Document, path: YamlPath) -> Flow | None:
        c = self.c
        self.flow_locs[name] = (doc, path)
        allowed = ("title", "triggers", "escalation", "steps", "interrupts")
        spec = c.mapping(doc, path, allowed, f"flow {name}")
        if spec is None:
            return None
        for i, _ in enumerate(spec.get("triggers") or []):
            self.trigger(name, doc, (*path, "triggers", i))
        escalation = None
        if "escalation" in spec:
            escalation = c.escalation(doc, (*path, "escalation"), f"flow {name} escalation")
        steps = spec.get("steps")
        if not isinstance(steps, list) or not steps:
            c.problem(doc, path, f"flow {name}: steps must be a non-empty list")
            return None
        program = _Program(name)
        self.block(program, doc, (*path, "steps"), steps)
        program.resolve(c)
        self.locs[name] = program.locs
        title = str(spec.get("title") or name.replace("_", " ").capitalize())
        interrupts = spec.get("interrupts", True)
        if not isinstance(interrupts, bool):
            c.problem(doc, (*path, "interrupts"), "interrupts: true or false")
        return Flow(
            name,
            title,
            tuple(program.instructions),
            escalation,
            interrupts=interrupts is not False,
            suggested="title" in spec,
        )

    def trigger(self, flow: str, doc: Document, path: YamlPath) -> None:
        c = self.c
        spec = c.mapping(doc, path, (*TRIGGER_KEYS, "min_confidence"), "trigger")
        if spec is None:
            return
        kinds = [k for k in TRIGGER_KEYS if k in spec]
        if len(kinds) != 1:
            c.problem(doc, path, f"trigger: give exactly one of {', '.join(TRIGGER_KEYS)}")
            return
        kind, value = kinds[0], spec[kinds[0]]
        self.triggered.add(flow)
        where = (*path, kind)
        if kind == "intent":
            c.intent(doc, where, str(value))
            confidence = spec.get("min_confidence", 0.0)
            if not isinstance(confidence, int | float) or not 0 <= confidence <= 1:
                c.problem(doc, (*path, "min_confidence"), "min_confidence: expected 0 … 1")
                confidence = 0.0
            self._unique(self.intent_flows, str(value), (flow, float(confidence)), doc, where)
        elif "min_confidence" in spec:
            c.problem(doc, (*path, "min_confidence"), "min_confidence goes with intent")
        if kind == "keywords":
            words = value if isinstance(value, list) else [value]
            self.pattern_flows.append((keyword_pattern([str(w) for w in words]), flow))
        elif kind == "regex":
            if (pattern := c.regex(doc, where, value)) is not None:
                self.pattern_flows.append((pattern, flow))
        elif kind == "button":
            self._unique(self.button_flows, str(value), flow, doc, where)
        elif kind == "event":
            if value not in EVENTS:
                c.problem(doc, where, f"unknown event {value} ({', '.join(EVENTS)})")
            else:
                self._unique(self.event_flows, str(value), flow, doc, where)

    def _unique(
        self, table: dict[str, Any], key: str, value: Any, doc: Document, path: YamlPath
    ) -> None:
        if key in table:
            other = table[key][0] if isinstance(table[key], tuple) else table[key]
            self.c.problem(doc, path, f"{key} already starts flow {other}")
        else:
            table[key] = value

    # ---------------------------------------------------------------- steps

    def block(self, p: _Program, doc: Document, path: YamlPath, steps: Any) -> None:
        if not isinstance(steps, list):
            self.c.problem(doc, path, "expected a list of steps")
            return
        for i, raw in enumerate(steps):
            self.step(p, doc, (*path, i), raw)

    def step(self, p: _Program, doc: Document, path: YamlPath, raw: Any) -> None:
        c = self.c
        if raw == "end":
            p.emit(End(p.label("end", None)), (doc, path))
            return
        if not isinstance(raw, dict):
            c.problem(doc, path, f"unknown step {raw!r} (a mapping such as say: …, or end)")
            return
        kinds = [k for k in STEP_KEYS if k in raw]
        if len(kinds) != 1:
            c.problem(doc, path, f"a step needs exactly one of {', '.join(STEP_KEYS)}")
            return
        kind = kinds[0]
        c.mapping(doc, path, (kind, "id", *STEP_KEYS[kind]), f"{kind} step")
        ident = raw.get("id")
        if ident is not None:
            p.declare(c, str(ident), doc, (*path, "id"))
        value = raw[kind]
        loc = (doc, path)
        at = (*path, kind)
        if kind == "say":
            template = c.template(doc, at, value)
            if template:
                p.emit(Say(template, p.label(f"say:{value}", ident)), loc)
        elif kind == "text":
            text = c.text(doc, at, value)
            buttons = c.buttons(doc, (*path, "buttons"), raw.get("buttons"))
            if text:
                template = Template(f"{p.flow}.text", (text,), tuple(buttons))
                p.emit(Say(template, p.label("text", ident)), loc)
        elif kind == "ask":
            self.ask(p, doc, path, raw, ident)
        elif kind == "set":
            if not isinstance(value, dict) or not value:
                c.problem(doc, at, "set: expected slot: value pairs")
                return
            for slot, v in value.items():
                if c.slot(doc, (*at, slot), slot):
                    v = c.text(doc, (*at, slot), v) if isinstance(v, str) and "{" in v else v
                    p.emit(SetSlot(slot, v, p.label(f"set:{slot}", ident)), loc)
                    ident = None
        elif kind == "if":
            condition = c.condition(doc, at)
            branch = p.emit(Branch(condition, 0, p.label("if", ident)), loc)
            if "then" not in raw:
                c.problem(doc, path, "if: then is required")
            self.block(p, doc, (*path, "then"), raw.get("then", []))
            if "else" in raw:
                jump = p.emit(Jump(0, p.label("jump", None)), None)
                p.patch(branch, else_pc=len(p.instructions))
                self.block(p, doc, (*path, "else"), raw["else"])
                p.patch(jump, pc=len(p.instructions))
            else:
                p.patch(branch, else_pc=len(p.instructions))
        elif kind == "call":
            action = c.actions.get(str(value))
            if action is None and str(value) not in c.items["actions"]:
                c.problem(doc, at, f"unknown action {value}")
            if action is None:
                return
            call = p.emit(Call(action, None, p.label(f"call:{value}", ident)), loc)
            self.side_block(p, doc, (*path, "on_error"), raw.get("on_error"), call, "error_pc")
        elif kind == "handoff":
            reason = c.text(doc, at, str(value) if value is not None else "")
            queue = raw.get("queue")
            if reason is not None:
                label = p.label("handoff", ident)
                p.emit(HandOffStep(reason, None if queue is None else str(queue), label), loc)
        elif kind == "goto":
            p.gotos.append((p.emit(Jump(0, p.label(f"goto:{value}", ident)), loc), str(value)))
        elif kind == "knowledge":
            question = c.text(doc, at, "{text}" if value in (None, "last") else value)
            if question is not None:
                step = p.emit(KnowledgeStep(question, None, p.label("knowledge", ident)), loc)
                self.side_block(p, doc, (*path, "on_miss"), raw.get("on_miss"), step, "miss_pc")
        elif kind == "flow":
            if value not in c.flow_names:
                c.problem(doc, at, f"unknown flow {value}")
                return
            self.referenced.add(str(value))
            p.emit(StartFlow(str(value), p.label(f"flow:{value}", ident)), loc)

    def side_block(
        self, p: _Program, doc: Document, path: YamlPath, steps: Any, at: int, field: str
    ) -> None:
        if steps is None:
            return
        jump = p.emit(Jump(0, p.label("jump", None)), None)
        p.patch(at, **{field: len(p.instructions)})
        self.block(p, doc, path, steps)
        p.patch(jump, pc=len(p.instructions))

    def ask(
        self, p: _Program, doc: Document, path: YamlPath, raw: dict[str, Any], ident: Any
    ) -> None:
        c = self.c
        slot = raw["ask"]
        ok = c.slot(doc, (*path, "ask"), slot)
        if "prompt" not in raw:
            c.problem(doc, path, "ask: prompt (a template name) is required")
            return
        prompt = c.template(doc, (*path, "prompt"), raw["prompt"])
        invalid = None
        if "invalid" in raw:
            invalid = c.template(doc, (*path, "invalid"), raw["invalid"])
        entity = raw.get("entity")
        if entity is not None:
            c.entity(doc, (*path, "entity"), str(entity))
        regex = c.regex(doc, (*path, "regex"), raw["regex"]) if "regex" in raw else None
        choices = self.choices(doc, (*path, "choices"), raw.get("choices"))
        validate = None
        if "validate" in raw:
            validate = c.condition(doc, (*path, "validate"), frozenset({"value"}))
        attempts = raw.get("attempts", 3)
        if not isinstance(attempts, int) or attempts < 1:
            c.problem(doc, (*path, "attempts"), "attempts: expected a whole number ≥ 1")
            attempts = 3
        transform = raw.get("transform")
        if transform not in (None, "upper", "lower"):
            c.problem(doc, (*path, "transform"), "transform: upper or lower")
        if not ok or prompt is None:
            return
        extra = tuple(ButtonSpec(_plain(ch.title), ch.payload) for ch in choices)
        if extra:
            prompt = dataclasses.replace(prompt, buttons=prompt.buttons + extra)
            if invalid is not None:
                invalid = dataclasses.replace(invalid, buttons=invalid.buttons + extra)
        ask = Ask(
            slot=str(slot),
            prompt=prompt,
            entity=None if entity is None else str(entity),
            regex=regex,
            choices=tuple(choices),
            validate=validate,
            invalid=invalid,
            attempts=attempts,
            fail_pc=None,
            reuse=bool(raw.get("reuse", False)),
            transform=transform if transform in ("upper", "lower") else None,
            label=p.label(f"ask:{slot}", ident),
            interruptible=raw.get("interrupt", True) is not False,
        )
        at = p.emit(ask, (doc, path))
        self.side_block(p, doc, (*path, "on_fail"), raw.get("on_fail"), at, "fail_pc")

    def choices(self, doc: Document, path: YamlPath, value: Any) -> list[Choice]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.c.problem(doc, path, "choices: expected a list")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append(Choice(item, item, item))
                continue
            spec = self.c.mapping(doc, (*path, i), ("title", "payload", "value"), "choice")
            if spec is None or "title" not in spec:
                self.c.problem(doc, (*path, i), "choice: title is required")
                continue
            title = str(spec["title"])
            value_ = spec.get("value", spec.get("payload", title))
            out.append(Choice(title, str(spec.get("payload", value_)), value_))
        return out


def _plain(text: str) -> Any:
    from dialogs.expressions import compile_text

    return compile_text(text.replace("{", "{{").replace("}", "}}"))


class _Program:
    def __init__(self, flow: str) -> None:
        self.flow = flow
        self.instructions: list[Instruction] = []
        self.locs: list[Loc | None] = []
        self.ids: dict[str, int] = {}
        self.pending_ids: list[str] = []
        self.gotos: list[tuple[int, str]] = []
        self.used: set[str] = set()

    def declare(self, c: Compiler, ident: str, doc: Document, path: YamlPath) -> None:
        if ident in self.ids or ident in self.pending_ids:
            c.problem(doc, path, f"step id {ident} is used twice in flow {self.flow}")
        self.pending_ids.append(ident)

    def label(self, auto: str, ident: Any) -> str:
        label = str(ident) if ident is not None else auto
        if label in self.used:
            label = f"{label}#{len(self.instructions)}"
        self.used.add(label)
        return label

    def emit(self, instruction: Instruction, loc: Loc | None) -> int:
        pc = len(self.instructions)
        for ident in self.pending_ids:
            self.ids[ident] = pc
        self.pending_ids.clear()
        self.instructions.append(instruction)
        self.locs.append(loc)
        return pc

    def patch(self, at: int, **changes: Any) -> None:
        self.instructions[at] = dataclasses.replace(self.instructions[at], **changes)

    def resolve(self, c: Compiler) -> None:
        for pc, target in self.gotos:
            loc = self.locs[pc]
            if target not in self.ids:
                assert loc is not None
                c.problem(loc[0], (*loc[1], "goto"), f"goto: no step with id {target}")
                continue
            self.patch(pc, pc=self.ids[target])


# --------------------------------------------------------------------------- whole-bot checks


def _successors(ins: Instruction, pc: int, can_end: dict[str, bool]) -> list[int]:
    if isinstance(ins, Say | SetSlot):
        return [pc + 1]
    if isinstance(ins, Ask):
        return [pc + 1, EXIT if ins.fail_pc is None else ins.fail_pc]
    if isinstance(ins, Branch):
        return [pc + 1, ins.else_pc]
    if isinstance(ins, Jump):
        return [ins.pc]
    if isinstance(ins, Call):
        return [pc + 1, pc + 1 if ins.error_pc is None else ins.error_pc]
    if isinstance(ins, StartFlow):
        return [EXIT] if can_end.get(ins.flow) else []
    if isinstance(ins, KnowledgeStep):
        return [pc + 1, pc + 1 if ins.miss_pc is None else ins.miss_pc]
    return [EXIT]  # HandOffStep, End


def _reach(flow: Flow, can_end: dict[str, bool]) -> tuple[set[int], bool]:
    seen: set[int] = set()
    todo = [0]
    ends = False
    while todo:
        pc = todo.pop()
        if pc == EXIT or pc >= len(flow.steps):
            ends = True
            continue
        if pc in seen:
            continue
        seen.add(pc)
        todo.extend(_successors(flow.steps[pc], pc, can_end))
    return seen, ends


def check_flows(c: Compiler, compiler: FlowCompiler, flows: dict[str, Flow]) -> None:
    can_end: dict[str, bool] = {}
    changed = True
    while changed:
        changed = False
        for name, flow in flows.items():
            if not can_end.get(name) and _reach(flow, can_end)[1]:
                can_end[name] = changed = True
    for name, flow in flows.items():
        doc, path = compiler.flow_locs[name]
        locs = compiler.locs[name]
        reached, ends = _reach(flow, can_end)
        if not ends:
            c.problem(doc, path, f"flow {name} can never end")
        previous = True
        for pc in range(len(flow.steps)):
            loc = locs[pc]
            if pc not in reached and loc is not None and previous:
                c.problem(loc[0], loc[1], f"unreachable step in flow {name}")
            previous = pc in reached or loc is None
        if loop := _busy_loop(flow):
            loc = locs[loop]
            where = loc if loc is not None else (doc, path)
            c.problem(where[0], where[1], f"flow {name} loops without waiting for the customer")
        if name not in compiler.triggered and name not in compiler.referenced:
            c.problem(doc, path, f"flow {name} is never started (no triggers, no flow: step)")


def _busy_loop(flow: Flow) -> int | None:
    """A cycle of steps none of which is an ask: the pc of a jump on it."""
    state: dict[int, int] = {}  # 1 visiting, 2 done

    def visit(pc: int) -> int | None:
        state[pc] = 1
        for nxt in _successors(flow.steps[pc], pc, {}):
            if nxt == EXIT or nxt >= len(flow.steps) or isinstance(flow.steps[nxt], Ask):
                continue
            if state.get(nxt) == 1:
                return pc
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        state[pc] = 2
        return None

    for start in range(len(flow.steps)):
        if start in state or isinstance(flow.steps[start], Ask):
            continue
        if (found := visit(start)) is not None:
            return found
    return None
