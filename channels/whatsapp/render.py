"""An outbound message as the Graph API ``/messages`` request bodies that show it (pure).

- Text is split at 4096 characters on word boundaries.
- Up to 3 buttons: an interactive ``button`` message (reply buttons, titles cut to 20
  characters, the payload as the button id). Its body is the text's last part when that fits
  1024 characters; otherwise the whole text goes first and the buttons follow with a short body.
- 4 to 10 buttons: an interactive ``list`` (row titles cut to 24 characters, the full title as
  the row's description when cut).
- More than 10: the options numbered in the text.
- Attachments follow, each as its own media message by link (``file`` as a document).
- Outside the 24-hour customer-service window free-form messages are refused by WhatsApp:
  the configured template is sent instead, or the send fails permanently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from channels.base import SendError
from channels.text import numbered_options, split_text
from common.messages import Attachment, Button, OutboundMessage

TEXT_LIMIT = 4096
BODY_LIMIT = 1024
MAX_REPLY_BUTTONS = 3
MAX_LIST_ROWS = 10
BUTTON_TITLE_LIMIT = 20
ROW_TITLE_LIMIT = 24
ROW_DESCRIPTION_LIMIT = 72
BUTTON_ID_LIMIT = 256
ROW_ID_LIMIT = 200
BUTTONS_PROMPT = "Please choose:"
LIST_BUTTON = "Options"
_MEDIA_TYPES = {
    "image": "image",
    "video": "video",
    "audio": "audio",
    "file": "document",
    "sticker": "sticker",
}
Payload = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Template:
    """The approved template sent when the window has closed (no parameters)."""

    name: str
    language: str


def shorten(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def recipient(message: OutboundMessage) -> str:
    """WhatsApp ids are the number's digits without ``+``."""
    return message.conversation.chat_id.removeprefix("+")


def render(
    message: OutboundMessage, *, now: float, template: Template | None = None
) -> list[Payload]:
    """The request bodies, in order; SendError("permanent") when nothing may be sent."""
    to = recipient(message)
    if message.window_closes_at is not None and now >= message.window_closes_at:
        if template is None:
            raise SendError("permanent", "WhatsApp 24-hour window closed; no template configured")
        return [_envelope(to, "template", _template(template))]
    bodies = [_content(message.text, message.buttons), *map(_media, message.attachments)]
    payloads = [_envelope(to, kind, content) for part in bodies for kind, content in part]
    if not payloads:
        raise SendError("permanent", "nothing to send: no text, buttons or attachments")
    return payloads


def _envelope(to: str, kind: str, content: Payload) -> Payload:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": kind,
        kind: content,
    }


def _template(template: Template) -> Payload:
    return {"name": template.name, "language": {"code": template.language}}


def _texts(parts: Sequence[str]) -> list[tuple[str, Payload]]:
    return [("text", {"body": part, "preview_url": False}) for part in parts if part]


def _content(text: str, buttons: Sequence[Button]) -> list[tuple[str, Payload]]:
    if len(buttons) > MAX_LIST_ROWS:
        return _texts(split_text(numbered_options(text, buttons), TEXT_LIMIT))
    parts = split_text(text, TEXT_LIMIT) if text.strip() else []
    if not buttons:
        return _texts(parts)
    body = parts.pop() if parts and len(parts[-1]) <= BODY_LIMIT else BUTTONS_PROMPT
    action = _reply_buttons(buttons) if len(buttons) <= MAX_REPLY_BUTTONS else _list(buttons)
    kind = "button" if len(buttons) <= MAX_REPLY_BUTTONS else "list"
    interactive = {"type": kind, "body": {"text": body}, "action": action}
    return [*_texts(parts), ("interactive", interactive)]


def _checked_id(button: Button, limit: int) -> str:
    if not button.payload or len(button.payload) > limit:
        raise SendError(
            "permanent",
            f"button {button.title!r}: WhatsApp needs a payload of 1 to {limit} characters",
        )
    return button.payload


def _reply_buttons(buttons: Sequence[Button]) -> Payload:
    return {
        "buttons": [
            {
                "type": "reply",
                "reply": {
                    "id": _checked_id(b, BUTTON_ID_LIMIT),
                    "title": shorten(b.title, BUTTON_TITLE_LIMIT),
                },
            }
            for b in buttons
        ]
    }


def _list(buttons: Sequence[Button]) -> Payload:
    rows: list[Payload] = []
    for button in buttons:
        row: Payload = {
            "id": _checked_id(button, ROW_ID_LIMIT),
            "title": shorten(button.title, ROW_TITLE_LIMIT),
        }
        if len(button.title.strip()) > ROW_TITLE_LIMIT:
            row["description"] = shorten(button.title, ROW_DESCRIPTION_LIMIT)
        rows.append(row)
    return {"button": LIST_BUTTON, "sections": [{"rows": rows}]}


def _media(attachment: Attachment) -> list[tuple[str, Payload]]:
    kind = _MEDIA_TYPES[attachment.kind]
    media: Payload = {"link": attachment.url}
    if kind == "document" and attachment.name:
        media["filename"] = attachment.name
    return [(kind, media)]
