"""Typed answers to the options the bot offered.

The worker remembers the options it last showed on each channel and maps a typed answer back
to a button press: the option's title on any channel, and its number ("2") where the adapter
declares that options are shown numbered (``Capabilities.numbered_options``: SMS, WhatsApp
through Twilio, the Cloud API beyond three, ``frontdesk chat``), ignoring case, accents and
surrounding punctuation.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from common.messages import Button


def remembered(buttons: Sequence[Button]) -> list[list[str]]:
    """The JSON-friendly form of offered options kept in the session."""
    return [[b.title, b.payload] for b in buttons]


def resolve_choice(
    text: str, options: Sequence[Sequence[str]], *, numbered: bool = True
) -> str | None:
    """The payload of the option ``text`` picks, or None; a number counts only where the
    options were shown ``numbered``."""
    answer = _folded(text.strip().strip(".!)").strip())
    if not answer or not options:
        return None
    if answer.isdigit():
        n = int(answer) if numbered and len(answer) <= 3 else 0
        return options[n - 1][1] if 1 <= n <= len(options) else None
    for title, payload in options:
        if _folded(title.strip()) == answer:
            return payload
    return None


def _folded(text: str) -> str:
    """Case- and accent-insensitive form: "Café" and "cafe" are the same answer."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
