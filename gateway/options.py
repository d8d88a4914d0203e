"""Typed answers to the options the bot offered.

On the channels that show options numbered (SMS, WhatsApp through Twilio, the Cloud API beyond
ten, ``frontdesk chat``) the worker remembers the options it last offered and maps a typed
answer back to a button press: the option's number ("2") or its title, ignoring case, accents
and surrounding punctuation.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from common.messages import Button

# Twilio's SMS and WhatsApp show no buttons; the Cloud API shows up to 10 and numbers the rest.
# ``frontdesk chat`` (the console channel) prints them numbered too.
NUMBERED_OPTION_CHANNELS = frozenset({"sms", "whatsapp", "whatsapp_cloud", "console"})


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
