"""The website chat's settings (``channels.web``; docs/web.md)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from common.settings import Section

WEB_STRINGS = {
    "title": "Chat with us",
    "launcher": "Open chat",
    "close": "Close chat",
    "input_label": "Your message",
    "placeholder": "Type your message…",
    "send": "Send",
    "typing": "Typing…",
    "connecting": "Connecting…",
    "offline": "Connection lost. Reconnecting…",
    "unavailable": "The chat is not available right now.",
    "identity_refused": "We could not verify who you are. Please sign in again.",
    "rate_limited": "You are sending messages too fast. Please wait a moment.",
    "too_long": "That message is too long.",
    "unread": "{n} unread",
    "you": "You",
    "bot": "Assistant",
    "agent": "Agent",
}


class WebChannelSettings(Section):
    """The website chat (channels/web, docs/web.md): on by default."""

    enabled: bool = True
    # Sites that may embed the widget (scheme://host[:port]); the gateway's own page always
    # may. "*": any site (not for production).
    allowed_origins: tuple[str, ...] = ()
    # Signs visitor tokens. Empty: a random per-process secret with memory:// (a warning),
    # and the channel is off with a shared redis:// store.
    token_secret: str = ""
    token_ttl: float = Field(default=30 * 24 * 3600.0, gt=0, description="seconds")
    # Identity verification: the site's server sends HMAC-SHA256(identity_secret, user_id).
    identity_secret: str = ""
    max_message_chars: int = Field(default=2000, ge=1, le=100_000)
    history: int = Field(default=200, ge=1, description="messages replayed to a widget")
    messages_per_minute: int = Field(default=20, ge=1, description="per visitor")
    ip_messages_per_minute: int = Field(default=120, ge=1, description="per IP address")
    ip_conversations_per_hour: int = Field(default=30, ge=1, description="new visitors per IP")
    strings: dict[str, str] = Field(default_factory=lambda: dict(WEB_STRINGS))

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins_from_text(cls, value: object) -> object:
        """A list, or one string of origins separated by commas or spaces (an env variable)."""
        return value.replace(",", " ").split() if isinstance(value, str) else value

    def requirements(self) -> list[tuple[str, str]]:
        unknown = sorted(set(self.strings) - set(WEB_STRINGS))
        bad = [o for o in self.allowed_origins if o != "*" and not _ORIGIN.match(o)]
        return [("strings", f"unknown string {k!r}") for k in unknown] + [
            ("allowed_origins", f"{o!r} is not an origin like https://shop.example.com")
            for o in bad
        ]


_ORIGIN = re.compile(r"^https?://[^/\s]+$")
