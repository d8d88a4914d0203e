"""Optional generative answers (``knowledge.generator: openai``): an OpenAI-compatible
chat-completions server (vLLM, llama.cpp server, Ollama, a hosted API) rephrases the retrieved
passages into one answer to the customer's question.

It may only use the passages, must cite them (``[1]``), and says ``NO_ANSWER`` when they do
not hold the answer: an answer without a valid citation, a refusal, an error or a timeout all
give None, and the bot falls back to the extractive answer (the entry's own text). Phone
numbers, email addresses and order ids are masked before any text leaves the process."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from common.logging import get_logger

NO_ANSWER = "NO_ANSWER"
SYSTEM = (
    "You answer a customer's question for a business, using ONLY the numbered passages given. "
    "Rephrase them into a short, friendly answer and cite every passage you use as [n]. "
    f"If the passages do not contain the answer, reply exactly {NO_ANSWER}. Never add facts, "
    "prices, dates or promises that are not in the passages."
)
_ORDER = r"#\d{3,}\b|\b(?=(?:[^\d\s]*\d){3})[A-Za-z]+[-\w]*\d\w*\b"
_MASKS = [  # in this order: an order id such as ORD-2024-0042 is not a phone number
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "[email]"),
    (re.compile(_ORDER), "[order]"),
    (re.compile(r"(?<![\w])\+?\d[\d\s().-]{6,}\d(?![\w])"), "[phone]"),
]
_CITATION = re.compile(r"\[(\d+)\]")


def mask(text: str) -> str:
    """Phone numbers, emails and order ids replaced by placeholders."""
    for pattern, placeholder in _MASKS:
        text = pattern.sub(placeholder, text)
    return text


@dataclass(frozen=True, slots=True, kw_only=True)
class Passage:
    id: str
    title: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Generated:
    text: str
    cited: tuple[str, ...]  # entry ids of the passages cited


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneratorSettings:
    base_url: str
    model: str
    api_key: str = ""
    timeout: float = 8.0


async def generate(
    session: aiohttp.ClientSession,
    settings: GeneratorSettings,
    question: str,
    passages: Sequence[Passage],
) -> Generated | None:
    """The rephrased, cited answer, or None (refused, uncited, failed, timed out)."""
    if not passages:
        return None
    numbered = "\n\n".join(
        f"[{n}] {mask(p.title)}\n{mask(p.text)}" for n, p in enumerate(passages, 1)
    )
    body: dict[str, Any] = {
        "model": settings.model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Passages:\n{numbered}\n\nQuestion: {mask(question)}"},
        ],
    }
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    url = settings.base_url.rstrip("/") + "/chat/completions"
    log = get_logger(component="knowledge.generator")
    try:
        timeout = aiohttp.ClientTimeout(total=settings.timeout)
        async with session.post(url, json=body, headers=headers, timeout=timeout) as resp:
            if resp.status >= 400:
                log.warning("generator_failed", status=resp.status)
                return None
            data = await resp.json(content_type=None)
        text = str(data["choices"][0]["message"]["content"]).strip()
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, IndexError, TypeError) as exc:
        log.warning("generator_failed", error=type(exc).__name__)
        return None
    if not text or NO_ANSWER in text:
        return None
    cited = sorted({int(n) for n in _CITATION.findall(text) if 1 <= int(n) <= len(passages)})
    if not cited:
        log.info("generator_uncited")
        return None
    return Generated(text=text, cited=tuple(passages[n - 1].id for n in cited))
