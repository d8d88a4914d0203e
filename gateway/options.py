"""Buttons on channels that cannot show them (SMS, WhatsApp through Twilio).

Such channels render buttons as numbered options (the WhatsApp Cloud API beyond ten). The
worker remembers the options it last offered on the channel, and maps the customer's answer
back to a button press: the option's number ("2") or its title, ignoring case and surrounding
punctuation.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.messages import Button

# Twilio's SMS and WhatsApp show no buttons; the Cloud API shows up to 10 and numbers the rest.
NUMBERED_OPTION_CHANNELS = frozenset({"sms", "whatsapp", "whatsapp_cloud"})


def remembered(buttons: Sequence[Button]) -> list[list[str]]:
    """The JSON-friendly form of offered options kept in the session."""
    return [[b.title, b.payload] for b in buttons]


def resolve_choice(text: str, options: Sequence[Sequence[str]]) -> str | None:
    """The payload of the option ``text`` picks, or None."""
    answer = text.strip().strip(".!)").strip().casefold()
    if not answer or not options:
        return None
    if answer.isdigit():
        n = int(answer)
        return options[n - 1][1] if 1 <= n <= len(options) else None
    for title, payload in options:
        if title.strip().casefold() == answer:
            return payload
    return None
