"""The dialog engine: one pure step, ``step(bot, state, event, parse) -> (state, actions)``.

No files, Redis or HTTP here: the runner parses messages, performs the HTTP actions the engine
asks for (feeding each result back as a ``CallResult``) and turns the ``Say`` and ``HandOff``
actions into the worker's Outcome. The state is a small JSON-able value; a stack of frames
(flow, step) where every frame below the top is a form interrupted by another flow's question.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from common.messages import Button
from dialogs.actions import (
    Action,
    CallResult,
    DialogEvent,
    Event,
    HandOffAction,
    HttpRequest,
    KnowledgeNote,
    KnowledgeQuery,
    KnowledgeResult,
    SayAction,
    Trace,
    UserInput,
)
from dialogs.model import (
    Ask,
    Bot,
    Branch,
    Call,
    DialogState,
    End,
    Escalation,
    Flow,
    Frame,
    HandOffStep,
    Jump,
    KnowledgeStep,
    Say,
    SetSlot,
    StartFlow,
    Template,
    from_json,
)
from nlu.result import ParseResult

__all__ = ["DialogState", "Frame", "from_json", "step"]

MAX_INSTRUCTIONS = 500  # per step: a guard against loops the validator did not see


EMPTY_PARSE = ParseResult(text="", intent=None, confidence=0.0)
# The feedback buttons under a knowledge-base answer, and the customer's way to a person.
KB_YES, KB_NO, KB_HUMAN = "/kb_yes", "/kb_no", "/kb_human"
FEEDBACK_BUTTONS = (Button(title="Yes", payload=KB_YES), Button(title="No", payload=KB_NO))
HUMAN_BUTTON = Button(title="Talk to a person", payload=KB_HUMAN)
_YES = frozenset({"yes", "y", "yeah", "yep", "yes thanks", "yes thank you", "it did", "1"})
_NO = frozenset({"no", "n", "nope", "not really", "no it didn't", "it didn't", "2"})
_PUNCT = re.compile(r"[^\w\s']+")


class DialogLoopError(RuntimeError):
    """A flow ran more than MAX_INSTRUCTIONS steps without waiting for the customer."""


def payload_parse(bot: Bot, payload: str | None) -> ParseResult | None:
    """A button payload ``/intent`` stands for that intent, understood with certainty."""
    if payload and payload.startswith("/") and payload[1:] in bot.intent_flows:
        return ParseResult(text=payload, intent=payload[1:], confidence=1.0)
    return None


def step(
    bot: Bot, state: DialogState, event: Event, parse: ParseResult | None = None
) -> tuple[DialogState, list[Action]]:
    """The state after ``event`` and what to do about it."""
    if isinstance(event, UserInput):
        parse = payload_parse(bot, event.payload) or parse
    turn = _Turn(bot, state, event, parse or EMPTY_PARSE)
    if isinstance(event, CallResult):
        turn.call_returned(event)
    elif isinstance(event, KnowledgeResult):
        turn.knowledge_returned(event)
    elif isinstance(event, DialogEvent):
        turn.system_event(event)
    else:
        turn.user_input(event)
    return turn.result()


@dataclass(slots=True)
class _Frame:
    flow: str
    pc: int
    key: str = ""
    tries: int = 0


@dataclass(slots=True)
class _Turn:
    bot: Bot
    state: DialogState
    event: Event
    parse: ParseResult
    slots: dict[str, Any] = field(init=False)
    stack: list[_Frame] = field(init=False)
    actions: list[Action] = field(default_factory=list)
    fallbacks: int = 0
    http_status: int | None = None
    awaiting: str | None = None
    may_fill: bool = False
    budget: int = MAX_INSTRUCTIONS
    trigger: str | None = None
    feedback: tuple[str, str] | None = None
    kb_title: str | None = None
    kb_link: str | None = None

    def __post_init__(self) -> None:
        self.slots = dict(self.state.slots)
        self.stack = [_Frame(f.flow, f.pc, f.key, f.tries) for f in self.state.stack]
        self.fallbacks = self.state.fallbacks
        self.http_status = self.state.http_status
        self.feedback = self.state.feedback

    # ---------------------------------------------------------------- events

    def user_input(self, event: UserInput) -> None:
        bot, text = self.bot, event.text
        first_contact = not self.state.seen
        top = self.stack[-1] if self.stack else None
        if (hit := self._escalation(bot.escalation, at_start=False)) or (
            top and (hit := self._escalation(bot.flows[top.flow].escalation, at_start=False))
        ):
            self._handoff(*hit)
            return
        if event.payload == KB_HUMAN:
            reason = "the customer asked for a person after a knowledge-base answer"
            self._handoff("knowledge", reason, None)
            return
        if self.feedback is not None and top is None and self._feedback(event):
            return
        self.feedback = None  # anything else: the answer's question is dropped
        if top is not None and not event.payload and _normal(text) in bot.cancel_words:
            self.stack.clear()
            self._say(bot.templates["cancelled"])
            return
        if top is not None and top.key == "":  # the flow changed under it: start it again
            top.key = "restart"
            self.may_fill = True
            self.trigger = "restart"
            self.run()
            return
        if top is not None:
            self._answer(top)
            return
        flow = self._match()
        if first_contact and (greeter := bot.event_flows.get("first_contact")):
            self._start(greeter, "first_contact")
            self.run()
            if flow is None and not self.awaiting and not self.stack and self._running_ok():
                self._not_understood(fallback=False)  # a first question the FAQ answers
            if flow is None or flow == greeter or self.awaiting or not self._running_ok():
                return
            self.stack.clear()
        if flow is not None:
            self.fallbacks = 0
            self._start(flow, self.trigger)
            self.run()
        elif not first_contact:
            self._not_understood()

    def system_event(self, event: DialogEvent) -> None:
        self.stack.clear()
        self.fallbacks = 0
        if flow := self.bot.event_flows.get(event.name):
            self._start(flow, event.name)
            self.run()

    def call_returned(self, result: CallResult) -> None:
        if not self.stack or self.state.awaiting != result.action:
            return
        frame = self.stack[-1]
        call = self.bot.flows[frame.flow].steps[frame.pc]
        assert isinstance(call, Call)
        self.http_status = result.status
        if result.ok:
            for slot, path in call.action.save:
                self.slots[slot] = _dig(result.data, path)
            frame.pc += 1
        else:
            frame.pc = call.error_pc if call.error_pc is not None else frame.pc + 1
        self.run()

    # ---------------------------------------------------------------- knowledge base

    def _not_understood(self, *, fallback: bool = True) -> None:
        """No flow: the knowledge base first (``knowledge.before_fallback``), then the
        fallback."""
        event, kb = self.event, self.bot.knowledge
        assert isinstance(event, UserInput)
        if kb is not None and kb.before_fallback and event.text.strip() and not event.payload:
            self.actions.append(KnowledgeQuery(question=event.text.strip()))
            self.awaiting = "knowledge" if fallback else "knowledge:quiet"
        elif fallback:
            self._fallback()

    def knowledge_returned(self, result: KnowledgeResult) -> None:
        mode, kb = self.state.awaiting, self.bot.knowledge
        if mode is None or not mode.startswith("knowledge"):
            return
        entry = kb.entry(result.answer) if kb is not None and result.answer else None
        self.actions.append(
            KnowledgeNote(
                kind="answer" if entry is not None else "miss",
                entry=result.answer if entry else None,
                question=result.text,
                score=result.score,
                candidates=result.candidates,
                threshold=result.threshold,
            )
        )
        if entry is not None and kb is not None:
            self.kb_title, self.kb_link = entry.title, entry.link
            self._say(kb.templates[entry.id])
            last = self.actions.pop()
            assert isinstance(last, SayAction)
            if result.generated:  # the generator's rephrasing, its sources listed below it
                last = SayAction(text=result.generated, buttons=last.buttons)
                note = ""
            else:
                source = "knowledge_source_link" if entry.link else "knowledge_source"
                note = "\n\n" + self._render(self.bot.templates[source])
            self.actions.append(
                SayAction(
                    text=f"{last.text}{note}",
                    buttons=last.buttons,
                    alternatives=tuple(f"{a}{note}" for a in last.alternatives),
                )
            )
            ask = self.bot.templates["knowledge_feedback"]
            self._say(ask, extra=() if ask.buttons else FEEDBACK_BUTTONS)
            self.feedback = (entry.id, result.text)
        if mode == "knowledge:step" and self.stack:
            frame = self.stack[-1]
            step_ = self.bot.flows[frame.flow].steps[frame.pc]
            assert isinstance(step_, KnowledgeStep)
            missed = entry is None and step_.miss_pc is not None
            frame.pc = step_.miss_pc if missed and step_.miss_pc is not None else frame.pc + 1
            self.run()
        elif entry is None and mode == "knowledge":
            self._fallback()

    def _feedback(self, event: UserInput) -> bool:
        """The customer's answer to "Did that answer your question?"; False when the message
        is something else."""
        said = _normal(event.text) if not event.payload else ""
        yes = event.payload == KB_YES or said in _YES
        if not yes and not (event.payload == KB_NO or said in _NO):
            return False
        assert self.feedback is not None
        (entry, question), self.feedback = self.feedback, None
        self.actions.append(
            KnowledgeNote(kind="yes" if yes else "no", entry=entry, question=question)
        )
        if yes:
            self.fallbacks = 0
            self._say(self.bot.templates["knowledge_thanks"])
            return True
        self.fallbacks += 1
        if self.fallbacks >= self.bot.fallback_limit:
            reason = f"knowledge-base answers did not help {self.fallbacks} times in a row"
            self._handoff("fallback", reason, None)
            return True
        sorry = self.bot.templates["knowledge_unhelpful"]
        self._say(sorry, extra=() if sorry.buttons else (HUMAN_BUTTON,))
        return True

    # ---------------------------------------------------------------- forms

    def _answer(self, frame: _Frame) -> None:
        """The customer answers the question of the form on top of the stack."""
        ask = self.bot.flows[frame.flow].steps[frame.pc]
        assert isinstance(ask, Ask)
        found, value = (False, None) if ask.free_text else self._extract(ask)
        if not found:
            other = self._match() if ask.interruptible else None
            if other is not None and other != frame.flow and self.bot.flows[other].interrupts:
                self.fallbacks = 0
                if len(self.stack) > self.bot.max_interruptions:
                    self.stack.clear()
                self._start(other, self.trigger)
                self.run()
                return
            if ask.free_text:
                found, value = self._extract(ask)
        if found and self._valid(ask, value):
            self.slots[ask.slot] = value
            frame.pc += 1
            frame.tries = 0
            self.run()
            return
        frame.tries += 1
        if frame.tries >= ask.attempts:
            frame.tries = 0
            if ask.fail_pc is None:
                self._handoff("attempts", f"no valid {ask.slot} after {ask.attempts} tries", None)
                return
            frame.pc = ask.fail_pc
            self.run()
            return
        self._say(ask.invalid or ask.prompt)

    def _extract(self, ask: Ask) -> tuple[bool, Any]:
        found, value = self._extract_raw(ask)
        if found and isinstance(value, str) and ask.transform:
            value = value.upper() if ask.transform == "upper" else value.lower()
        return found, value

    def _extract_raw(self, ask: Ask) -> tuple[bool, Any]:
        event = self.event
        assert isinstance(event, UserInput)
        text = event.text.strip()
        for choice in ask.choices:
            if event.payload == choice.payload or (
                not event.payload
                and _normal(text) in (choice.title.lower(), str(choice.value).lower())
            ):
                return True, choice.value
        if ask.entity:
            for entity in self.parse.entities:
                if entity.entity == ask.entity and (
                    ask.regex is None or ask.regex.search(str(entity.value))
                ):
                    return True, entity.value
        if ask.regex is not None and (m := ask.regex.search(text)):
            return True, m.group(1) if m.groups() else m.group(0)
        if ask.free_text and text:
            return True, text
        return False, None

    def _valid(self, ask: Ask, value: Any) -> bool:
        return ask.validate is None or ask.validate({**self._vars(), "value": value})

    # ---------------------------------------------------------------- running flows

    def _start(self, flow: str, trigger: str | None) -> None:
        hit = self._escalation(self.bot.escalation, at_start=True, checks_messages=False)
        hit = hit or self._escalation(self.bot.flows[flow].escalation, at_start=True)
        if hit:
            self._handoff(*hit)
            return
        self.trigger = trigger
        self.may_fill = True
        self.stack.append(_Frame(flow, 0))

    def _running_ok(self) -> bool:
        return not any(isinstance(a, HandOffAction) for a in self.actions)

    def run(self) -> None:
        """Execute steps until the customer must answer, a call must be made, or no flow is
        left."""
        while self.stack:
            frame = self.stack[-1]
            flow = self.bot.flows[frame.flow]
            if frame.pc >= len(flow.steps):
                self.stack.pop()
                self.may_fill = False  # a resumed form asks its question again
                continue
            self.budget -= 1
            if self.budget < 0:
                raise DialogLoopError(f"flow {flow.name} does not wait for the customer")
            ins = flow.steps[frame.pc]
            self.actions.append(Trace(flow=flow.name, step=ins.label, trigger=self.trigger))
            if isinstance(ins, Ask):
                if self._ask(frame, ins):
                    return
            elif isinstance(ins, Say):
                self._say(ins.template)
                frame.pc += 1
            elif isinstance(ins, SetSlot):
                value = ins.value
                self.slots[ins.slot] = value.render(self._vars()) if _is_text(value) else value
                frame.pc += 1
            elif isinstance(ins, Branch):
                frame.pc = frame.pc + 1 if ins.condition(self._vars()) else ins.else_pc
            elif isinstance(ins, Jump):
                frame.pc = ins.pc
            elif isinstance(ins, Call):
                self._call(ins)
                return
            elif isinstance(ins, HandOffStep):
                self._handoff("flow", ins.reason.render(self._vars()), ins.queue, say=False)
                return
            elif isinstance(ins, End):
                self.stack.pop()
                self.may_fill = False
            elif isinstance(ins, KnowledgeStep):
                if self.bot.knowledge is None:  # no knowledge base: a miss
                    frame.pc = ins.miss_pc if ins.miss_pc is not None else frame.pc + 1
                    continue
                question = ins.question.render(self._vars()).strip()
                self.actions.append(KnowledgeQuery(question=question))
                self.awaiting = "knowledge:step"
                return
            elif isinstance(ins, StartFlow):
                self.stack.pop()
                self._start(ins.flow, f"flow:{flow.name}")
                if not self._running_ok():
                    return

    def _ask(self, frame: _Frame, ask: Ask) -> bool:
        """True when the turn waits for the customer's answer."""
        if ask.reuse and self.slots.get(ask.slot) is not None:
            frame.pc += 1
            return False
        if self.may_fill and not ask.free_text:
            found, value = self._extract(ask)
            if found and self._valid(ask, value):
                self.slots[ask.slot] = value
                frame.pc += 1
                return False
        frame.key = ask.label
        self._say(ask.prompt)
        return True

    def _call(self, call: Call) -> None:
        variables = self._vars()
        self.awaiting = call.action.name
        self.actions.append(
            HttpRequest(
                action=call.action.name,
                method=call.action.method,
                url=call.action.url.render(_UrlVars(variables)),
                body=_render_tree(call.action.body, variables),
                timeout=call.action.timeout,
            )
        )

    # ---------------------------------------------------------------- rules

    def _escalation(
        self, rules: Escalation | None, *, at_start: bool, checks_messages: bool = True
    ) -> tuple[str, str, str | None] | None:
        if rules is None:
            return None
        parse, queue = self.parse, rules.queue
        if checks_messages:
            event = self.event
            m = (
                rules.keywords.search(event.text)
                if isinstance(event, UserInput) and (rules.keywords is not None)
                else None
            )
            if m:
                return "keyword", f"the customer asked for a person ({m.group(0)!r})", queue
            if (
                rules.sentiment_below is not None
                and parse.text
                and parse.sentiment < (rules.sentiment_below)
            ):
                return "sentiment", f"negative sentiment ({parse.sentiment:.2f})", queue
            if parse.intent is not None and parse.intent in rules.intents:
                return "sensitive_intent", f"sensitive topic: {parse.intent}", queue
        if at_start and rules.when:
            variables = self._vars()
            for condition in rules.when:
                if condition(variables):
                    return "slot_condition", f"escalation rule: {condition.source}", queue
        return None

    def _fallback(self) -> None:
        bot = self.bot
        self.fallbacks += 1
        if self.fallbacks >= bot.fallback_limit:
            self._handoff("fallback", f"not understood {self.fallbacks} times in a row", None)
            return
        ranking = self.parse.ranking
        if ranking and ranking[0].name == "out_of_scope" and "out_of_scope" in bot.templates:
            self._say(bot.templates["out_of_scope"])
            return
        buttons: list[Button] = []
        for score in ranking:
            if score.confidence < bot.suggest_min_confidence or len(buttons) == 2:
                break
            entry = bot.intent_flows.get(score.name)
            if entry and bot.flows[entry[0]].suggested:
                title = bot.flows[entry[0]].title
                if all(b.title != title for b in buttons):
                    buttons.append(Button(title=title, payload=f"/{score.name}"))
        if buttons:
            self._say(bot.templates["did_you_mean"], extra=tuple(buttons))
        else:
            self._say(bot.templates["fallback"])

    def _handoff(self, trigger: str, reason: str, queue: str | None, *, say: bool = True) -> None:
        if say:
            self._say(self.bot.templates["handoff"], handoff_notice=True)
        self.actions.append(
            HandOffAction(trigger=trigger, reason=reason, queue=queue or self.bot.escalation.queue)
        )
        self.stack.clear()
        self.fallbacks = 0
        self.awaiting = None

    def _match(self) -> str | None:
        """The flow this message starts, if any: buttons, then keywords/regexes, then intent."""
        bot, parse, event = self.bot, self.parse, self.event
        if not isinstance(event, UserInput):
            return None
        if event.payload and (flow := bot.button_flows.get(event.payload)):
            self.trigger = f"button:{event.payload}"
            return flow
        for pattern, flow in bot.pattern_flows:
            if event.text and pattern.search(event.text):
                self.trigger = f"pattern:{pattern.pattern}"
                return flow
        entry = bot.intent_flows.get(parse.intent) if parse.intent else None
        if entry and parse.confidence >= entry[1]:
            self.trigger = f"intent:{parse.intent}"
            return entry[0]
        return None

    # ---------------------------------------------------------------- output

    def _vars(self) -> dict[str, Any]:
        event, parse = self.event, self.parse
        return {
            **self.slots,
            "customer_name": getattr(event, "customer_name", None),
            "channel": getattr(event, "channel", None),
            "intent": parse.intent,
            "confidence": parse.confidence,
            "sentiment": parse.sentiment,
            "text": getattr(event, "text", None),
            "http_status": self.http_status,
            "kb_title": self.kb_title,
            "kb_link": self.kb_link,
        }

    def _render(self, template: Template) -> str:
        return template.variants[0].render(self._vars())

    def _say(
        self, template: Template, extra: tuple[Button, ...] = (), *, handoff_notice: bool = False
    ) -> None:
        variables = self._vars()
        rendered = tuple(v.render(variables) for v in template.variants)
        seed = getattr(self.event, "seed", 0) + len(self.actions)
        buttons = tuple(
            Button(title=b.title.render(variables), payload=b.payload) for b in template.buttons
        )
        self.actions.append(
            SayAction(
                text=rendered[seed % len(rendered)],
                buttons=buttons + extra,
                alternatives=rendered,
                handoff_notice=handoff_notice,
            )
        )

    def result(self) -> tuple[DialogState, list[Action]]:
        state = DialogState(
            slots=self.slots,
            stack=tuple(Frame(f.flow, f.pc, f.key, f.tries) for f in self.stack),
            fallbacks=self.fallbacks,
            seen=True,
            turn=self.state.turn + (1 if isinstance(self.event, UserInput) else 0),
            http_status=self.http_status,
            awaiting=self.awaiting,
            feedback=self.feedback,
        )
        return state, self.actions


def _normal(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


def _is_text(value: Any) -> bool:
    return hasattr(value, "render") and hasattr(value, "parts")


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if isinstance(data, Mapping):
            data = data.get(key)
        elif isinstance(data, list) and key.isdigit() and int(key) < len(data):
            data = data[int(key)]
        else:
            return None
    return data


def _render_tree(tree: Any, variables: Mapping[str, Any]) -> Any:
    if _is_text(tree):
        return tree.render(variables)
    if isinstance(tree, dict):
        return {k: _render_tree(v, variables) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_render_tree(v, variables) for v in tree]
    return tree


class _UrlVars(dict[str, Any]):
    """Slot values quoted for a URL path or query."""

    def __init__(self, variables: Mapping[str, Any]) -> None:
        from urllib.parse import quote

        super().__init__(
            {k: quote(str(v), safe="") if v is not None else None for k, v in variables.items()}
        )


__all__ += ["Action", "CallResult", "DialogEvent", "Event", "SayAction", "UserInput"]
__all__ += ["KnowledgeNote", "KnowledgeQuery", "KnowledgeResult"]
__all__ += ["DialogLoopError", "Flow", "HandOffAction", "HttpRequest", "Trace", "payload_parse"]
