"""The widget's wire protocol (JSON text frames over the WebSocket), parsed and rendered purely.

Client → server::

    {"type": "hello", "token"?, "user_id"?, "user_hash"?, "user_name"?, "after"?}
    {"type": "message", "client_id", "text"}                 # the customer wrote
    {"type": "message", "client_id", "payload", "text"?}     # pressed a button (text: title)

Server → client::

    {"type": "welcome", "token", "conversation"}
    {"type": "entry", "id", "from": "customer"|"bot"|"agent", "text", "buttons", "attachments",
     "agent"?, "client_id"?, "at"}
    {"type": "ack", "client_id", "status": "queued"|"duplicate"}
    {"type": "typing"}
    {"type": "error", "code", "message", "client_id"?}

Anything malformed is a :class:`ProtocolError` with a code the widget shows; never an exception
that reaches the socket loop.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from channels.web.log import Entry, valid_id
from common.messages import OutboundMessage

_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_PAYLOAD = 256
MAX_NAME = 80


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, client_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.client_id = client_id


@dataclass(frozen=True, slots=True, kw_only=True)
class Hello:
    token: str | None = None
    user_id: str | None = None
    user_hash: str | None = None
    user_name: str | None = None
    after: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Said:
    client_id: str
    text: str
    payload: str | None = None


def _opt_str(data: dict[str, Any], name: str, limit: int) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ProtocolError("bad_request", f"{name} must be a string of at most {limit} characters")
    return value


def parse_frame(raw: str, *, max_chars: int) -> Hello | Said:
    try:
        data = json.loads(raw)
    except ValueError:
        raise ProtocolError("bad_request", "frames are JSON objects") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_request", "frames are JSON objects")
    kind = data.get("type")
    if kind == "hello":
        name = _opt_str(data, "user_name", MAX_NAME)
        return Hello(
            token=_opt_str(data, "token", 200),
            user_id=_opt_str(data, "user_id", 128),
            user_hash=_opt_str(data, "user_hash", 128),
            user_name=name.strip() or None if name else None,
            after=valid_id(data.get("after")),
        )
    if kind != "message":
        raise ProtocolError("bad_request", f"unknown frame type {kind!r}")
    client_id = data.get("client_id")
    if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
        raise ProtocolError("bad_request", "client_id must be 8-64 characters [A-Za-z0-9_-]")
    text = data.get("text", "")
    if not isinstance(text, str):
        raise ProtocolError("bad_request", "text must be a string", client_id)
    if len(text) > max_chars:
        raise ProtocolError("too_long", f"at most {max_chars} characters", client_id)
    try:
        payload = _opt_str(data, "payload", MAX_PAYLOAD)
    except ProtocolError as exc:
        raise ProtocolError(exc.code, exc.message, client_id) from None
    text = text.strip()
    if not text and payload is None:
        raise ProtocolError("bad_request", "a message needs text or a payload", client_id)
    return Said(client_id=client_id, text=text, payload=payload)


def safe_url(url: str) -> bool:
    """Only http(s) links and media reach the widget (no ``javascript:``, ``data:``)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def customer_entry(said: Said, *, name: str | None, now: float | None = None) -> Entry:
    return {
        "from": "customer",
        "text": said.text or said.payload or "",
        "client_id": said.client_id,
        "name": name,
        "buttons": [],
        "attachments": [],
        "at": now or time.time(),
    }


def reply_entry(message: OutboundMessage, *, now: float | None = None) -> Entry:
    """An outbound message as the widget shows it. An agent's relayed reply (``relay_of``)
    comes as ``"<name>: <text>"`` from the handoff desk; the name becomes the sender."""
    text, agent = message.text, None
    if message.relay_of is not None:
        name, sep, rest = text.partition(": ")
        agent = name if sep and 0 < len(name) <= MAX_NAME else "Agent"
        text = rest if sep and agent == name else text
    return {
        "from": "agent" if message.relay_of is not None else "bot",
        "text": text,
        "agent": agent,
        "buttons": [{"title": b.title, "payload": b.payload} for b in message.buttons],
        "attachments": [
            {"kind": a.kind, "url": a.url, "name": a.name, "mime_type": a.mime_type}
            for a in message.attachments
            if safe_url(a.url)
        ],
        "at": now or time.time(),
    }


def entry_frame(entry_id: str, entry: Entry) -> str:
    return json.dumps({"type": "entry", "id": entry_id, **entry}, ensure_ascii=False)


def frame(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields}, ensure_ascii=False)
