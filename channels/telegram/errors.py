"""python-telegram-bot's exceptions, classified for the outbox.

How PTB 22 surfaces a failed call (``telegram/request/_baserequest.py``): a response with
``parameters.retry_after`` raises ``RetryAfter``; 400 ``BadRequest`` (chat not found, message
too long), 403 ``Forbidden`` (bot blocked, kicked), 401/404 ``InvalidToken``, 409 ``Conflict``;
every other status, 5xx included (also 502 with an HTML body), raises a bare ``NetworkError``,
as do connection failures; ``TimedOut`` is a ``NetworkError`` too. ``BadRequest`` is a
subclass of ``NetworkError``, so it is tested first.
"""

from __future__ import annotations

import datetime as dtm
import os
import warnings

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from channels.base import SendError

# Opt in to PTB's coming behaviour (time periods as timedelta): without it, PTB 22.2+ warns
# with a DeprecationWarning inside RetryAfter's own constructor on every flood wait.
os.environ.setdefault("PTB_TIMEDELTA", "true")


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the int form is deprecated
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def classify(exc: TelegramError) -> SendError:
    detail = f"{type(exc).__name__}: {exc.message}"
    if isinstance(exc, RetryAfter):
        return SendError("rate_limited", detail, retry_after=retry_after_seconds(exc))
    if isinstance(exc, ChatMigrated):
        return SendError("permanent", f"{detail} (new chat id {exc.new_chat_id})")
    if isinstance(exc, Forbidden | InvalidToken | BadRequest | Conflict):
        return SendError("permanent", detail)
    if isinstance(exc, TimedOut | NetworkError):
        return SendError("transient", detail)
    return SendError("transient", detail)  # e.g. an unreadable answer from the server
