"""Twilio error codes: a short meaning for the ones an operator or agent meets most.

Used for delivery status callbacks (``ErrorCode``) and for failed sends (the error JSON's
``code``); the full list is at https://www.twilio.com/docs/api/errors/<code>.
"""

from __future__ import annotations

MEANINGS: dict[int, str] = {
    20003: "authentication failed (check account_sid and auth_token)",
    20429: "too many requests",
    21211: "invalid 'To' phone number",
    21408: "sending to this region is not enabled on the account",
    21606: "the 'From' number cannot send to this destination",
    21608: "trial accounts can only send to verified numbers",
    21610: "the recipient has opted out (replied STOP)",
    21614: "the 'To' number is not a mobile number",
    21617: "message body longer than 1600 characters",
    30001: "queue overflow",
    30002: "account suspended",
    30003: "unreachable destination handset",
    30004: "message blocked",
    30005: "unknown destination handset",
    30006: "landline or unreachable carrier",
    30007: "filtered by the carrier",
    30008: "unknown error",
    63003: "the WhatsApp recipient cannot be reached",
    63016: "outside the WhatsApp 24-hour window (send a template)",
    63024: "invalid WhatsApp recipient",
    63049: "WhatsApp chose not to deliver this message",
}


def describe(code: int | str | None, fallback: str = "") -> str:
    """``"30003 unreachable destination handset"``; the code alone if unknown."""
    if code is None or code == "":
        return fallback
    try:
        number = int(code)
    except (TypeError, ValueError):
        return f"{code} {fallback}".strip()
    meaning = MEANINGS.get(number, fallback)
    return f"{number} {meaning}".strip()
