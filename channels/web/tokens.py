"""Who is on the other end of a widget: signed visitor tokens and identity verification.

An anonymous visitor gets ``v1.<visitor id>.<expiry>.<signature>``, an HMAC-SHA256 over the id
and the expiry with the channel's token secret; the browser keeps it (localStorage) and shows
it on every connection. A token is refreshed while valid; a forged or expired one is replaced
by a new visitor. A site with logged-in users passes ``user_id`` and ``user_hash`` =
hex HMAC-SHA256(identity secret, user_id), computed by the site's server; only a matching
hash joins the conversation with that user's other sessions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

_VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_USER_ID = 128


@dataclass(frozen=True, slots=True, kw_only=True)
class Visitor:
    """A verified visitor: the conversation id (``v-…`` anonymous, ``u-…`` a site's user)."""

    conversation: str
    user_id: str
    verified_user: bool = False


def _mac(secret: str, message: str) -> str:
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def user_hash(identity_secret: str, user_id: str) -> str:
    """What the site's server computes for a logged-in user (hex HMAC-SHA256 of the id)."""
    return hmac.new(identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


class TokenError(Exception):
    """A token or identity that is refused (forged, malformed, or expired)."""


class VisitorTokens:
    def __init__(self, secret: str, ttl: float) -> None:
        if not secret:
            raise ValueError("a visitor token secret is required")
        self.secret = secret
        self.ttl = ttl

    def issue(self, visitor_id: str | None = None, *, now: float | None = None) -> str:
        visitor_id = visitor_id or secrets.token_urlsafe(18)
        expires = int((now or time.time()) + self.ttl)
        body = f"v1.{visitor_id}.{expires}"
        return f"{body}.{_mac(self.secret, body)}"

    def verify(self, token: str, *, now: float | None = None) -> str:
        """The visitor id of a valid token; TokenError otherwise."""
        parts = token.split(".") if isinstance(token, str) and len(token) < 200 else []
        if len(parts) != 4 or parts[0] != "v1" or not _VISITOR_ID.match(parts[1]):
            raise TokenError("malformed visitor token")
        body = ".".join(parts[:3])
        if not hmac.compare_digest(_mac(self.secret, body), parts[3]):
            raise TokenError("bad visitor token signature")
        if not parts[2].isdigit() or int(parts[2]) < (now or time.time()):
            raise TokenError("expired visitor token")
        return parts[1]


def verify_user(identity_secret: str, user_id: object, given_hash: object) -> str:
    """The user id when ``given_hash`` is its HMAC; TokenError otherwise (also when identity
    verification is not configured: a site's claim is never trusted unsigned)."""
    if not identity_secret:
        raise TokenError("identity verification is not configured")
    if not isinstance(user_id, str) or not 0 < len(user_id) <= MAX_USER_ID:
        raise TokenError("user_id must be a non-empty string")
    if not isinstance(given_hash, str) or not hmac.compare_digest(
        user_hash(identity_secret, user_id), given_hash.lower()
    ):
        raise TokenError("user_hash does not match user_id")
    return user_id
