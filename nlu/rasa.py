"""The Rasa backend: parse a message through a running Rasa server's ``POST /model/parse``.

Maps Rasa's answer (intent, intent ranking, entities) into a :class:`ParseResult`. When the
server fails (timeout, connection refused, a non-2xx status, an answer that is not Rasa's
JSON) the message is parsed by the fallback backend if one is given, otherwise it is "not
understood"; either way the failure is logged and counted (``failures``, ``fallbacks``,
``not_understood`` and the optional ``on_error(backend, outcome)`` hook, which the gateway
wires to ``frontdesk_nlu_backend_errors_total{backend, outcome}``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import Any, Final

import aiohttp
from yarl import URL

from common.logging import get_logger
from nlu.result import Entity, IntentScore, NluBackend, ParseResult
from nlu.settings import NluSettings

__all__ = ["NOT_UNDERSTOOD_INTENTS", "RasaError", "RasaNlu", "map_response"]

# Rasa intents that mean "not understood" whatever their confidence: the conventional
# out-of-scope intent, and the one Rasa's FallbackClassifier predicts below its threshold.
NOT_UNDERSTOOD_INTENTS: Final = frozenset({"out_of_scope", "nlu_fallback"})
_FALLBACK_INTENT: Final = "nlu_fallback"

# Outcome labels of a failed call: parsed by the fallback backend, or treated as not understood.
OUTCOME_FALLBACK: Final = "fallback"
OUTCOME_NOT_UNDERSTOOD: Final = "not_understood"

ErrorHook = Callable[[str, str], None]  # (backend, outcome)


class RasaError(Exception):
    """The Rasa server did not give a usable answer; ``kind`` names why (for logs)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def parse_url(base: str) -> URL:
    """``{base}/model/parse``, keeping the base's query (``?token=…`` for ``--auth-token``)."""
    url = URL(base)
    return url.with_path(url.path.rstrip("/") + "/model/parse").with_query(url.query)


def _number(value: Any, default: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value)


def _entity(text: str, raw: Mapping[str, Any]) -> Entity | None:
    name = raw.get("entity")
    if not isinstance(name, str) or not name:
        return None
    value = raw.get("value")
    start, end = raw.get("start"), raw.get("end")
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= len(text)):
        # Custom extractors may leave the span out: find the value in the text if we can.
        found = text.find(str(value)) if value is not None else -1
        start, end = (found, found + len(str(value))) if found >= 0 else (0, 0)
    role, group = raw.get("role"), raw.get("group")
    return Entity(
        entity=name,
        value=text[start:end] if value is None else value,
        text=text[start:end],
        start=start,
        end=end,
        role=role if isinstance(role, str) else None,
        group=group if isinstance(group, str) else None,
        extractor="rasa",
    )


def map_response(text: str, body: Any, *, threshold: float) -> ParseResult:
    """Turn Rasa's ``/model/parse`` JSON into a result; raise :class:`RasaError` when it is not
    that JSON. ``nlu_fallback`` is left out of the ranking (it is not an intent of the data),
    and when Rasa predicts it the confidence is that of the best real intent."""
    # Rasa always answers with an intent object, ``{"name": null, "confidence": 0.0}`` at least.
    if not isinstance(body, dict) or not isinstance(body.get("intent"), dict):
        raise RasaError("malformed", "the answer has no intent object")
    top = body["intent"]
    name = top.get("name")
    if name is not None and not isinstance(name, str):
        raise RasaError("malformed", "the intent name is not a string")
    raw_ranking = body.get("intent_ranking")
    if raw_ranking is None:
        raw_ranking = [top] if name else []
    if not isinstance(raw_ranking, list):
        raise RasaError("malformed", "intent_ranking is not a list")
    ranking = tuple(
        IntentScore(name=r["name"], confidence=_number(r.get("confidence")))
        for r in raw_ranking
        if isinstance(r, dict) and isinstance(r.get("name"), str) and r["name"] != _FALLBACK_INTENT
    )
    confidence = _number(top.get("confidence"))
    if name == _FALLBACK_INTENT and ranking:
        confidence = ranking[0].confidence
    understood = bool(name) and name not in NOT_UNDERSTOOD_INTENTS and confidence >= threshold
    raw_entities = body.get("entities") or []
    if not isinstance(raw_entities, list):
        raise RasaError("malformed", "entities is not a list")
    entities = tuple(
        e for e in (_entity(text, r) for r in raw_entities if isinstance(r, dict)) if e is not None
    )
    return ParseResult(
        text=text,
        intent=name if understood else None,
        confidence=confidence,
        ranking=ranking,
        entities=entities,
    )


class RasaNlu:
    """An :class:`NluBackend` over a Rasa server. One ``aiohttp.ClientSession``, created by
    :meth:`start` (or at the first parse) and closed by :meth:`close`."""

    name = "rasa"

    def __init__(
        self,
        *,
        url: str,
        timeout: float = 2.0,
        threshold: float = 0.5,
        fallback: NluBackend | None = None,
        sentiment: Callable[[str], float] | None = None,
        on_error: ErrorHook | None = None,
    ) -> None:
        if not url:
            raise ValueError("the Rasa backend needs nlu.url")
        self.endpoint = parse_url(url)
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.threshold = threshold
        self.fallback = fallback
        self.sentiment = sentiment
        self.on_error = on_error
        self.failures = 0  # calls to Rasa that gave no usable answer
        self.fallbacks = 0  # of those, parsed by the fallback backend
        self.not_understood = 0  # of those, treated as not understood (no fallback)
        self._session: aiohttp.ClientSession | None = None
        # The endpoint without its query: the query may hold the auth token.
        self._log = get_logger(
            component="nlu", backend="rasa", url=str(self.endpoint.with_query(None))
        )

    @classmethod
    def from_settings(
        cls,
        settings: NluSettings,
        *,
        fallback: NluBackend | None = None,
        sentiment: Callable[[str], float] | None = None,
        on_error: ErrorHook | None = None,
    ) -> RasaNlu:
        """``fallback`` is used only when ``settings.fallback == "builtin"``."""
        return cls(
            url=settings.url,
            timeout=settings.timeout,
            threshold=settings.threshold,
            fallback=fallback if settings.fallback == "builtin" else None,
            sentiment=sentiment,
            on_error=on_error,
        )

    async def start(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def parse(self, text: str) -> ParseResult:
        try:
            result = map_response(text, await self._call(text), threshold=self.threshold)
        except RasaError as exc:
            return await self._failed(text, exc)
        if self.sentiment is not None:
            return dataclasses.replace(result, sentiment=self.sentiment(text))
        return result

    async def _call(self, text: str) -> Any:
        await self.start()
        assert self._session is not None
        try:
            async with self._session.post(self.endpoint, json={"text": text}) as resp:
                if resp.status >= 300:
                    detail = (await resp.text())[:200]
                    raise RasaError(f"http_{resp.status}", detail)
                raw = await resp.read()
        except TimeoutError as exc:
            raise RasaError("timeout", f"no answer within {self.timeout.total}s") from exc
        except aiohttp.ClientError as exc:
            raise RasaError("connection", f"{type(exc).__name__}: {exc}") from exc
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise RasaError("malformed", f"not JSON: {exc}") from exc

    async def _failed(self, text: str, error: RasaError) -> ParseResult:
        self.failures += 1
        outcome = OUTCOME_FALLBACK if self.fallback is not None else OUTCOME_NOT_UNDERSTOOD
        self._log.warning(
            "nlu_backend_failed", error=error.kind, detail=error.detail, outcome=outcome
        )
        if self.on_error is not None:
            self.on_error(self.name, outcome)
        if self.fallback is not None:
            self.fallbacks += 1
            return await self.fallback.parse(text)
        self.not_understood += 1
        score = self.sentiment(text) if self.sentiment is not None else 0.0
        return ParseResult(text=text, intent=None, confidence=0.0, sentiment=score)
