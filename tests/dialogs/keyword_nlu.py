"""A tiny deterministic NLU for dialog tests: keyword phrases → intent, regexes → entities,
a word list → sentiment. It implements ``nlu.result.NluBackend`` like the real backends."""

from __future__ import annotations

import re

from nlu.result import Entity, IntentScore, ParseResult

# intent -> (phrases that decide it, words that only hint at it)
INTENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "greet": (("hi", "hello", "hey", "good morning"), ()),
    "goodbye": (("bye", "goodbye", "see you"), ()),
    "thanks": (("thanks", "thank you", "cheers"), ()),
    "affirm": (("yes please", "sure", "yep"), ()),
    "deny": (("no thanks", "nope"), ()),
    "order_status": (("where is my order", "order status", "track my", "my package"), ("order",)),
    "return_policy": (("return", "returns", "send back"), ("refund",)),
    "refund_status": (("my refund", "refund status", "money back"), ("refund",)),
    "cancel_subscription": (("cancel my subscription", "unsubscribe", "end my subscription"), ()),
    "change_address": (("change my address", "change the delivery address", "new address"), ()),
    "opening_hours": (("opening hours", "when are you open", "open on"), ("open",)),
    "shipping_info": (("shipping", "delivery cost", "how long does delivery"), ("delivery",)),
    "payment_methods": (("pay with", "payment methods", "paypal"), ()),
    "complaint": (("complaint", "broken", "damaged", "terrible", "not happy"), ()),
    "talk_to_human": (("speak to someone", "talk to someone", "a person"), ()),
    "bot_challenge": (("are you a bot", "are you real"), ()),
    "legal": (("lawyer", "sue you", "court"), ()),
    "out_of_scope": (("weather", "joke", "pizza"), ()),
}
NEGATIVE = {"terrible": -0.9, "furious": -0.95, "worst": -0.9, "angry": -0.85, "broken": -0.3,
            "disappointed": -0.5, "not happy": -0.5, "damaged": -0.3}  # fmt: skip
ORDER_ID = re.compile(r"\b[A-Za-z]{2}\d{5}\b")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def _has(text: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text) is not None


class KeywordNlu:
    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold
        self.calls: list[str] = []

    async def parse(self, text: str) -> ParseResult:
        self.calls.append(text)
        return self.parse_sync(text)

    def parse_sync(self, text: str) -> ParseResult:
        low = text.lower()
        scores: dict[str, float] = {}
        for name, (strong, weak) in INTENTS.items():
            if any(_has(low, p) for p in strong):
                scores[name] = 0.9 + 0.001 * max(len(p) for p in strong if _has(low, p))
            elif any(_has(low, w) for w in weak):
                scores[name] = 0.3
        ranking = tuple(
            IntentScore(name=n, confidence=min(c, 0.99))
            for n, c in sorted(scores.items(), key=lambda kv: -kv[1])
        )
        entities = tuple(
            Entity(entity=name, value=m.group(0).upper() if name == "order_id" else m.group(0),
                   text=m.group(0), start=m.start(), end=m.end(), extractor="regex")
            for name, pattern in (("order_id", ORDER_ID), ("email", EMAIL))
            for m in pattern.finditer(text)
        )  # fmt: skip
        sentiment = min([v for w, v in NEGATIVE.items() if _has(low, w)], default=0.0)
        best = ranking[0] if ranking else None
        understood = best is not None and best.confidence >= self.threshold
        intent: str | None = None
        if best is not None and understood and best.name != "out_of_scope":
            intent = best.name
        return ParseResult(
            text=text,
            intent=intent,
            confidence=best.confidence if best else 0.0,
            ranking=ranking,
            entities=entities,
            sentiment=sentiment,
        )
