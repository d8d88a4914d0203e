"""The website chat: an embeddable widget and a full-page chat over a WebSocket (docs/web.md)."""

from channels.web.adapter import WebChannel
from channels.web.tokens import user_hash

__all__ = ["WebChannel", "user_hash"]
