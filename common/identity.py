"""Customer identity: which session a platform user belongs to.

SMS and WhatsApp (through Twilio, ``whatsapp``, or the Cloud API, ``whatsapp_cloud``) reach the
same phone number, so all are keyed by the number in E.164 (normalised with ``phonenumbers``)
and share one customer profile and history. Every other
channel keys a customer by channel and platform user id.
"""

from __future__ import annotations

from typing import Protocol

import phonenumbers

# Identity is the one channel fact kept here rather than in the adapters' capabilities: a
# session key must be computable from a stored message alone, by any process and by offline
# commands (``frontdesk customer export|erase``) that load no adapter.
PHONE_CHANNELS = frozenset({"sms", "whatsapp", "whatsapp_cloud"})


class _HasIdentity(Protocol):
    @property
    def channel(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def phone(self) -> str | None: ...


def to_e164(number: str, default_region: str | None = None) -> str:
    """Normalise a phone number (``whatsapp:`` prefix allowed) to E.164; ValueError if invalid."""
    raw = number.strip()
    if raw.startswith("whatsapp:"):
        raw = raw[len("whatsapp:") :]
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {number!r}") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError(f"not a possible phone number: {number!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def session_key_for(customer: _HasIdentity) -> str:
    """The session (and ordering) key of a customer: ``tel:+E164`` for phone channels."""
    if customer.channel in PHONE_CHANNELS:
        phone = customer.phone or customer.user_id
        try:
            return f"tel:{to_e164(phone)}"
        except ValueError:
            pass
    return f"{customer.channel}:{customer.user_id}"
