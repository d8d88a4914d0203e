"""Graph API failures into the outbox's three kinds: rate limited, transient, permanent.

Graph answers ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``,
mostly with HTTP 400 whatever the cause, so the error code decides, then the HTTP status.
Codes: https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
"""

from __future__ import annotations

import json
from typing import Any

from channels.base import SendError, parse_retry_after

# Throttling: app/account call limits, throughput, and the per-recipient pair rate limit.
RATE_LIMIT_CODES = frozenset({4, 80007, 130429, 131056})
# Meta's side had a problem: try again.
TRANSIENT_CODES = frozenset({1, 2, 131000, 131016, 133004})
# Worth naming in the detail an agent or operator reads.
KNOWN = {
    190: "access token expired or invalid",
    131047: "24-hour window closed (re-engagement message)",
    131026: "message undeliverable",
    131051: "unsupported message type",
    131008: "required parameter missing",
    100: "invalid parameter",
}


def _error_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def classify_graph_error(status: int, body: bytes, retry_after: str | None) -> SendError:
    """The SendError for a Graph answer with HTTP ``status`` >= 300."""
    error = _error_object(body)
    code = error.get("code") if isinstance(error.get("code"), int) else None
    parts = [f"Graph API {status}"]
    if code is not None:
        subcode = error.get("error_subcode")
        parts.append(f"code {code}" + (f"/{subcode}" if subcode else ""))
    if code in KNOWN:
        parts.append(KNOWN[code])
    if isinstance(error.get("message"), str):
        parts.append(error["message"])
    if error.get("fbtrace_id"):
        parts.append(f"fbtrace_id {error['fbtrace_id']}")
    detail = ": ".join(parts)
    wait = parse_retry_after(retry_after)
    if status == 429 or code in RATE_LIMIT_CODES:
        return SendError("rate_limited", detail, retry_after=wait)
    if status >= 500 or status == 408 or code in TRANSIENT_CODES:
        return SendError("transient", detail, retry_after=wait)
    if error.get("is_transient") is True:
        return SendError("transient", detail, retry_after=wait)
    return SendError("permanent", detail)
