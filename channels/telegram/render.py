"""Rendering an outbound message for Telegram: text parts, inline keyboards, callback data.

- Text is split at 4096 (Telegram counts UTF-16 code units) on paragraph, line or word
  boundaries; the buttons go on the last part.
- Each button is one keyboard row; its ``callback_data`` is the payload. Telegram allows 1-64
  bytes of callback data, so an empty or longer payload (or one that looks like our marker) is
  sent as ``~h:<22 characters of its SHA-256>`` and remembered in :class:`PayloadMemory`; a
  press maps back to the payload in the process that sent the button, and to the button's title
  (as text) elsewhere. Keep payloads within 64 bytes for multi-process deployments.
"""

from __future__ import annotations

import base64
import hashlib
from collections import OrderedDict
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from channels.text import split_text
from common.messages import Button

TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64
HASH_PREFIX = "~h:"


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def text_parts(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """``text`` in parts Telegram accepts; ``[]`` for no text."""
    if not text.strip():
        return []
    size = limit
    while True:
        parts = split_text(text, size)
        if all(utf16_len(p) <= limit for p in parts) or size <= limit // 2:
            return parts
        size -= max(1, limit // 16)  # astral characters (emoji) count twice: cut shorter


def callback_data(payload: str) -> str:
    """What goes into the button: the payload itself when Telegram accepts it."""
    size = len(payload.encode())
    if 0 < size <= CALLBACK_DATA_LIMIT and not payload.startswith(HASH_PREFIX):
        return payload
    digest = hashlib.sha256(payload.encode()).digest()[:16]
    return HASH_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")


class PayloadMemory:
    """The payloads behind hashed callback data sent by this process (bounded)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._payloads: OrderedDict[str, str] = OrderedDict()

    def data_for(self, payload: str) -> str:
        data = callback_data(payload)
        if data != payload:
            self._payloads[data] = payload
            self._payloads.move_to_end(data)
            while len(self._payloads) > self.capacity:
                self._payloads.popitem(last=False)
        return data

    def payload_for(self, data: str) -> str | None:
        return self._payloads.get(data)


def keyboard(buttons: Sequence[Button], memory: PayloadMemory) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.title, callback_data=memory.data_for(b.payload))] for b in buttons]
    )
