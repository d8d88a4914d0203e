"""Conversation tests: YAML transcripts run through the real runner, engine and NLU.

```yaml
tests:
  - name: order status, happy path
    slots: {tier: vip}            # optional: slots the session starts with
    customer_name: Ada            # optional
    steps:
      - user: where is my order?
      - bot: "Sure, I can check that. What's your order number? …"
      - user: AB12345
      - bot: "Good news: order AB12345 has shipped …"
      - press: Keep it            # a button of the last reply, by title (or a payload)
      - buttons: [Yes, No]        # the last reply's button titles
      - handoff: fallback         # the bot handed off with this trigger
      - event: handoff_returned   # an agent gave the conversation back
      - slots: {order_id: AB12345}
```
Every reply must be listed, in order; a ``bot:`` line matches the reply or any other variant
of its template. After a handoff the bot is silent until ``event: handoff_returned``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.messages import ConversationRef, CustomerMessage, CustomerRef
from common.settings import Document, read_document
from dialogs.base import Handoff, Reply, SystemEvent, TurnContext
from dialogs.runner import DialogRunner

STEP_KINDS = ("user", "press", "bot", "buttons", "handoff", "event", "slots")
_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class TestResult:
    file: str
    line: int
    name: str
    failure: str | None = None  # None: passed

    @property
    def ok(self) -> bool:
        return self.failure is None

    def __str__(self) -> str:
        head = f"{'ok  ' if self.ok else 'FAIL'} {self.file}:{self.line}  {self.name}"
        return head if self.ok else f"{head}\n{self.failure}"


@dataclass(slots=True)
class _Conversation:
    runner: DialogRunner
    channel: str = "test"
    customer_name: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    slots: dict[str, Any] = field(default_factory=dict)
    handed_off: bool = False
    replies: list[tuple[Reply, tuple[str, ...]]] = field(default_factory=list)
    last: Reply | None = None
    handoff: Handoff | None = None
    log: list[str] = field(default_factory=list)

    async def send(self, event: CustomerMessage | SystemEvent, shown: str) -> str | None:
        if self.replies:
            return "bot also said:\n" + "\n".join(f"  + bot: {r.text}" for r, _ in self.replies)
        if self.handoff is not None:
            return f"the bot handed off (trigger {self.handoff.trigger}), not expected here"
        self.log.append(shown)
        if self.handed_off and isinstance(event, CustomerMessage):
            return None  # an agent has the conversation: the bot stays silent
        context = TurnContext(
            channel=self.channel, customer_name=self.customer_name, slots=self.slots
        )
        outcome, alternatives = await self.runner.respond_detailed(self.state, event, context)
        self.state, self.slots = outcome.state, outcome.slots
        self.replies = list(zip(outcome.replies, alternatives, strict=True))
        if outcome.replies:
            self.last = outcome.replies[-1]
        self.handed_off = isinstance(event, CustomerMessage) and outcome.handoff is not None
        self.handoff = outcome.handoff
        return None

    def message(self, text: str = "", payload: str | None = None) -> CustomerMessage:
        n = next(_ids)
        return CustomerMessage(
            event_id=f"test-{n}",
            conversation=ConversationRef(channel=self.channel, chat_id="conversation-test"),
            customer=CustomerRef(channel=self.channel, user_id="customer-test",
                                 display_name=self.customer_name),
            text=text,
            button_payload=payload,
        )  # fmt: skip

    def press(self, title: str) -> tuple[str, str]:
        """The payload of the last reply's button called ``title`` (or ``title`` itself)."""
        for button in self.last.buttons if self.last else ():
            if button.title.lower() == title.lower() or button.payload == title:
                return button.title, button.payload
        return title, title


async def run_test(
    runner: DialogRunner, doc: Document, index: int, spec: dict[str, Any]
) -> TestResult:
    path: tuple[str | int, ...] = ("tests", index)
    name = str(spec.get("name", f"test {index + 1}"))
    convo = _Conversation(
        runner=runner,
        customer_name=spec.get("customer_name"),
        slots=dict(spec.get("slots") or {}),
        channel=str(spec.get("channel", "test")),
    )

    def fail(step: int, message: str) -> TestResult:
        line = doc.line((*path, "steps", step))
        history = "\n".join(f"    {entry}" for entry in convo.log[-6:])
        where = f"  at {doc.file}:{line}\n" + (
            f"  conversation so far:\n{history}\n" if history else ""
        )
        return TestResult(doc.file, doc.line(path), name, f"{where}{message}")

    for i, raw in enumerate(spec.get("steps") or []):
        kinds = [k for k in STEP_KINDS if isinstance(raw, dict) and k in raw]
        if len(kinds) != 1:
            return fail(i, f"  a step needs exactly one of {', '.join(STEP_KINDS)}: {raw!r}")
        kind, value = kinds[0], raw[kinds[0]]
        problem: str | None = None
        if kind == "user":
            problem = await convo.send(convo.message(str(value)), f"user: {value}")
        elif kind == "press":
            title, payload = convo.press(str(value))
            problem = await convo.send(convo.message(payload=payload), f"press: {title}")
        elif kind == "event":
            problem = await convo.send(
                SystemEvent(name=value, event_id=f"test-{next(_ids)}"), f"event: {value}"
            )
        elif kind == "bot":
            if not convo.replies:
                problem = f"  - bot: {value}\n  + (the bot said nothing more)"
            else:
                reply, alternatives = convo.replies.pop(0)
                if str(value).strip() not in (a.strip() for a in alternatives):
                    problem = f"  - bot: {value}\n  + bot: {reply.text}"
                    convo.replies.insert(0, (reply, alternatives))
                else:
                    convo.log.append(f"bot: {reply.text}")
        elif kind == "buttons":
            got = [b.title for b in convo.last.buttons] if convo.last else []
            if [str(v) for v in (value or [])] != got:
                problem = f"  - buttons: {value}\n  + buttons: {got}"
        elif kind == "handoff":
            if convo.handoff is None:
                problem = f"  - handoff: {value}\n  + (no handoff)"
            elif value not in (True, convo.handoff.trigger):
                problem = f"  - handoff: {value}\n  + handoff: {convo.handoff.trigger}"
            else:
                convo.log.append(f"(handoff: {convo.handoff.trigger}: {convo.handoff.reason})")
                convo.handoff = None
        elif kind == "slots":
            wrong = {
                k: convo.slots.get(k) for k, v in (value or {}).items() if convo.slots.get(k) != v
            }
            if wrong:
                problem = f"  - slots: {value}\n  + slots: {wrong}"
        if problem is not None:
            return fail(i, problem)
    if convo.replies:
        extra = "\n".join(f"  + bot: {r.text}" for r, _ in convo.replies)
        return fail(len(spec.get("steps") or []) - 1, f"  bot also said:\n{extra}")
    if convo.handoff is not None:
        return fail(
            len(spec.get("steps") or []) - 1, f"  unexpected handoff ({convo.handoff.trigger})"
        )
    return TestResult(doc.file, doc.line(path), name)


def test_files(path: str | Path) -> list[Path]:
    root = Path(path)
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.suffix in (".yml", ".yaml"))


async def run_tests(runner: DialogRunner, path: str | Path) -> list[TestResult]:
    """Run every conversation test in ``path`` (a file or a directory)."""
    results: list[TestResult] = []
    for file in test_files(path):
        doc, problems = read_document(file.read_text(encoding="utf-8"), str(file))
        if problems:
            results.extend(TestResult(p.file, p.line, "(file)", f"  {p.message}") for p in problems)
            continue
        tests = doc.data.get("tests") if isinstance(doc.data, dict) else None
        if not isinstance(tests, list):
            results.append(TestResult(str(file), 1, "(file)", "  expected tests: [...]"))
            continue
        for index, spec in enumerate(tests):
            if not isinstance(spec, dict):
                results.append(TestResult(str(file), doc.line(("tests", index)), "?", "  bad test"))
                continue
            results.append(await run_test(runner, doc, index, spec))
    return results


def report(results: list[TestResult]) -> str:
    lines = [str(r) for r in results]
    passed = sum(r.ok for r in results)
    lines.append(f"{passed} passed, {len(results) - passed} failed")
    return "\n".join(lines)
