"""Structured logs (structlog, JSON by default) with phone numbers and tokens masked.

Bind ``channel`` and ``conversation_id`` to a logger where they are known. Message bodies are
logged only at DEBUG; whatever is logged passes the masking processor first.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_TOKENS = [
    # Slack tokens, Telegram bot tokens, bearer and basic credentials, Twilio SIDs.
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{6,}"), "xox?-***"),
    (re.compile(r"(?<!\d)\d{6,12}:[A-Za-z0-9_-]{30,}\b"), "<telegram-token>"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 ***"),
    (re.compile(r"\b(AC|SK|MG)[0-9a-fA-F]{32}\b"), r"\1***"),
    (re.compile(r"\bEAA[A-Za-z0-9]{20,}"), "EAA***"),
]
# International numbers, with or without a whatsapp:/tel: prefix: keep the first 3 and last 2
# digits so operators can still tell conversations apart.
_PHONE = re.compile(r"(?<![\w.])(\+\d{1,3})[\d\s().-]{6,14}(\d{2})(?![\w])")
_SECRET_KEYS = re.compile(r"(?i)(token|secret|password|authorization|signature|api_key)")


def mask_text(text: str) -> str:
    for pattern, replacement in _TOKENS:
        text = pattern.sub(replacement, text)
    return _PHONE.sub(lambda m: f"{m.group(1)}******{m.group(2)}", text)


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {
            k: "***" if _SECRET_KEYS.search(str(k)) and v else _mask(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_mask(v) for v in value)
    return value


def mask_processor(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if _SECRET_KEYS.search(key) and isinstance(value, str) and value:
            event_dict[key] = "***"
        else:
            event_dict[key] = _mask(value)
    return event_dict


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    numeric = logging.getLevelNamesMapping()[level.upper()]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            mask_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(**bound: Any) -> Any:
    return structlog.get_logger("frontdesk").bind(**bound)
