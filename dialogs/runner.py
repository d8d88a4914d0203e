"""The YAML dialog as the worker sees it: a ``Dialog`` that parses the message with the NLU,
steps the engine, carries out its HTTP actions (aiohttp) and feeds the results back until the
engine has only replies and perhaps a handoff left.

It holds the current compiled ``Bot`` and swaps it atomically on reload (``swap``): a turn
uses the bot it started with from start to end.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from common.logging import get_logger
from common.messages import CustomerMessage
from dialogs.base import Handoff, Outcome, Reply, SystemEvent, TurnContext
from dialogs.engine import (
    CallResult,
    DialogEvent,
    HandOffAction,
    HttpRequest,
    KnowledgeNote,
    KnowledgeQuery,
    KnowledgeResult,
    SayAction,
    Trace,
    UserInput,
    payload_parse,
    step,
)
from dialogs.model import Bot, DialogState, from_json
from nlu.knowledge.generator import Passage, generate
from nlu.result import NluBackend, ParseResult

MAX_CALLS_PER_TURN = 10
# The bot reads at most this much of a message (NLU, sentiment, keywords, the knowledge base):
# the whole text stays in the transcript for agents, but one long message cannot cost more.
MAX_TEXT_CHARS = 4096


class DialogRunner:
    def __init__(
        self,
        bot: Bot,
        nlu: NluBackend,
        *,
        session: aiohttp.ClientSession | None = None,
        seed: int | None = None,
        max_text_chars: int = MAX_TEXT_CHARS,
    ) -> None:
        self.bot = bot
        self.nlu = nlu
        self.max_text_chars = max_text_chars
        self._session = session
        self._own_session = session is None
        self._random = random.Random(seed)

    def swap(self, bot: Bot, nlu: NluBackend | None = None) -> None:
        """Put a new version in force; turns already running finish with the old one."""
        self.bot = bot
        if nlu is not None:
            self.nlu = nlu

    async def close(self) -> None:
        if self._session is not None and self._own_session:
            await self._session.close()
            self._session = None

    async def respond(
        self,
        state: Mapping[str, Any],
        event: CustomerMessage | SystemEvent,
        context: TurnContext,
    ) -> Outcome:
        outcome, _ = await self.respond_detailed(state, event, context)
        return outcome

    async def respond_detailed(
        self,
        state: Mapping[str, Any],
        event: CustomerMessage | SystemEvent,
        context: TurnContext,
    ) -> tuple[Outcome, list[tuple[str, ...]]]:
        """``respond``, plus every variant each reply could have been (for conversation
        tests, which accept any of them)."""
        bot, nlu = self.bot, self.nlu
        current = from_json(bot, dict(state), dict(context.slots))
        parse: ParseResult | None = None
        if isinstance(event, SystemEvent):
            engine_event: UserInput | DialogEvent = DialogEvent(
                name=event.name, channel=context.channel, customer_name=context.customer_name
            )
        else:
            text = (event.text or "")[: self.max_text_chars]
            parse = payload_parse(bot, event.button_payload)
            if parse is None and text.strip():
                parse = await nlu.parse(text)
            engine_event = UserInput(
                text=text,
                payload=event.button_payload,
                channel=context.channel,
                customer_name=context.customer_name,
                seed=self._random.randrange(1 << 30),
            )
        return await self.run_turn(bot, current, engine_event, parse)

    async def run_turn(
        self,
        bot: Bot,
        state: DialogState,
        event: UserInput | DialogEvent,
        parse: ParseResult | None,
    ) -> tuple[Outcome, list[tuple[str, ...]]]:
        """Step the engine and perform its HTTP calls until the turn is over."""
        replies: list[Reply] = []
        alternatives: list[tuple[str, ...]] = []
        handoff: Handoff | None = None
        trace: Trace | None = None
        notes: list[KnowledgeNote] = []
        pending: UserInput | DialogEvent | CallResult | KnowledgeResult | None = event
        calls = 0
        while pending is not None:
            state, actions = step(bot, state, pending, parse)
            pending = None
            for action in actions:
                if isinstance(action, SayAction):
                    replies.append(
                        Reply(
                            text=action.text,
                            buttons=action.buttons,
                            handoff_notice=action.handoff_notice,
                        )
                    )
                    alternatives.append(action.alternatives or (action.text,))
                elif isinstance(action, Trace):
                    trace = action
                elif isinstance(action, HandOffAction):
                    handoff = Handoff(
                        trigger=action.trigger,
                        reason=action.reason,
                        queue=action.queue,
                        summary=summary(parse, state.slots),
                    )
                elif isinstance(action, HttpRequest) and calls < MAX_CALLS_PER_TURN:
                    calls += 1
                    pending = await self.call(action)
                elif isinstance(action, KnowledgeQuery) and calls < MAX_CALLS_PER_TURN:
                    calls += 1
                    pending = await ask_knowledge(bot, action, event, state, self._client)
                elif isinstance(action, KnowledgeNote):
                    notes.append(action)
        debug = debug_info(parse, trace, handoff, notes)
        if handoff is not None and isinstance(event, UserInput):
            asked = next((n.question for n in notes if n.kind == "no"), event.text)
            debug["question"] = asked  # the customer's question, for "Teach the bot"
            if found := await suggestions(bot, asked, state, event):
                debug["suggestions"] = found
        outcome = Outcome(
            state=state.to_json(),
            replies=replies,
            slots=dict(state.slots),
            handoff=handoff,
            debug=debug,
        )
        return outcome, alternatives

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def call(self, request: HttpRequest) -> CallResult:
        """One HTTP action; any failure (status ≥ 400, timeout, no JSON) is ``ok=False``."""
        log = get_logger(action=request.action)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        kwargs: dict[str, Any] = {"timeout": aiohttp.ClientTimeout(total=request.timeout)}
        if request.body is not None and request.method != "GET":
            kwargs["json"] = request.body
        try:
            async with self._session.request(request.method, request.url, **kwargs) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("dialog_action_failed", error=type(exc).__name__)
            return CallResult(action=request.action, ok=False, status=0)
        data: Any = None
        if raw:
            try:
                data = json.loads(raw)
            except ValueError:
                log.warning("dialog_action_not_json", status=status)
                return CallResult(action=request.action, ok=False, status=status)
        if status >= 400:
            log.info("dialog_action_status", status=status)
        return CallResult(action=request.action, ok=status < 400, status=status, data=data)


async def ask_knowledge(
    bot: Bot,
    query: KnowledgeQuery,
    event: UserInput | DialogEvent,
    state: DialogState,
    client: Callable[[], aiohttp.ClientSession],
) -> KnowledgeResult:
    """The knowledge base's answer (in a thread: a sentence encoder takes milliseconds),
    rephrased by the generator when one is configured and it cites the passages."""
    channel, name = event.channel, event.customer_name
    if bot.knowledge is None:
        return KnowledgeResult(text=query.question, answer=None, channel=channel)
    found = await asyncio.to_thread(bot.knowledge.kb.retriever.ask, query.question)
    best = found.answer
    generated = None
    if best is not None and bot.knowledge.generator is not None:
        variables = {**state.slots, "customer_name": name, "channel": channel}
        passages = [
            Passage(id=c.entry.id, title=c.entry.title,
                    text=bot.knowledge.templates[c.entry.id].variants[0].render(variables))
            for c in found.candidates
            if c.score >= found.threshold and c.entry.id in bot.knowledge.templates
        ]  # fmt: skip
        made = await generate(client(), bot.knowledge.generator, query.question, passages)
        if made is not None:  # its [n] citations, named
            cited = {p.id: n for n, p in enumerate(passages, 1)}
            entries = [bot.knowledge.kb.entries[i] for i in made.cited]
            sources = [f"[{cited[e.id]}] {e.title}" + (f" ({e.link})" if e.link else "")
                       for e in entries]  # fmt: skip
            generated = made.text + "\n\nSources: " + "; ".join(sources)
    return KnowledgeResult(
        generated=generated,
        text=query.question,
        answer=best.entry.id if best is not None else None,
        score=found.candidates[0].score if found.candidates else 0.0,
        candidates=tuple((c.entry.id, round(c.score, 4)) for c in found.candidates),
        threshold=found.threshold,
        channel=channel,
        customer_name=name,
    )


async def suggestions(
    bot: Bot, question: str, state: DialogState, event: UserInput
) -> list[dict[str, Any]]:
    """The knowledge base's best 3 answers to the question that led to a handoff, rendered
    for this customer, for the agents' thread (whatever their score: agents judge)."""
    if bot.knowledge is None or not question.strip():
        return []
    found = await asyncio.to_thread(bot.knowledge.kb.retriever.ask, question)
    variables = {**state.slots, "customer_name": event.customer_name, "channel": event.channel}
    out = []
    for c in found.candidates:
        template = bot.knowledge.templates.get(c.entry.id)
        if template is None:
            continue
        out.append(
            {"id": c.entry.id, "title": c.entry.title, "score": round(c.score, 3),
             "source": c.entry.source, "link": c.entry.link,
             "answer": template.variants[0].render(variables)}
        )  # fmt: skip
    return out


def summary(parse: ParseResult | None, slots: Mapping[str, Any]) -> str:
    known = ", ".join(f"{k}={v}" for k, v in slots.items() if v not in (None, ""))
    said = f"last intent: {parse.intent or 'not understood'}" if parse else ""
    return "; ".join(p for p in (said, f"slots: {known}" if known else "") if p)


def debug_info(
    parse: ParseResult | None,
    trace: Trace | None,
    handoff: Handoff | None,
    notes: list[KnowledgeNote] | None = None,
) -> dict[str, Any]:
    """Why the bot did what it did: for ``frontdesk chat`` and the handoff card."""
    info: dict[str, Any] = {
        "intent": parse.intent if parse else None,
        "confidence": round(parse.confidence, 3) if parse else None,
        "entities": [{"entity": e.entity, "value": e.value} for e in parse.entities]
        if parse
        else [],
        "flow": trace.flow if trace else None,
        "step": trace.step if trace else None,
    }
    if parse is not None:
        info["sentiment"] = round(parse.sentiment, 3)
        info["ranking"] = [[s.name, round(s.confidence, 3)] for s in parse.ranking[:3]]
    if trace is not None and trace.trigger:
        info["trigger"] = trace.trigger
    if handoff is not None:
        info["handoff"] = handoff.trigger
    if notes:  # knowledge-base answers, misses and feedback (metrics, review inbox)
        info["knowledge"] = [
            {"kind": n.kind, "id": n.entry, "score": round(n.score, 4), "question": n.question,
             "candidates": [list(c) for c in n.candidates], "threshold": n.threshold}
            for n in notes
        ]  # fmt: skip
    return info
