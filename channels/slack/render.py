"""Rendering an outbound message as Slack ``chat.postMessage`` calls with Block Kit (pure).

The text goes into ``mrkdwn`` sections (at most 3,000 characters each, split on word
boundaries), the buttons into ``actions`` blocks (25 buttons each; ``action_id`` unique in the
message, ``value`` = the button's payload), images into ``image`` blocks and other attachments
into links. A message that does not fit one post (50 blocks, 40,000 characters of fallback
``text``) becomes several posts; the buttons go with the last.

Escaping: every text we send, customer-derived or the bot's own, goes through :func:`escape`
(``&``, ``<``, ``>`` to entities), the one rule Slack documents. So no text can contain Slack's
``<!channel>``, ``<!here>``, ``<@U…>`` or ``<url|label>`` syntax: an echoed or interpolated
customer text cannot ping anyone or forge a link. The price is that dialog texts cannot write
Slack links or mentions either; ``*bold*``, ``_italic_``, ``` `code` ``` and bare URLs (which
Slack links itself) still work. Button titles are ``plain_text``, which Slack never parses for
mentions or links, so they are sent as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channels.base import SendError
from channels.text import split_text
from common.messages import Attachment, Button, Card, OutboundMessage

SECTION_LIMIT = 3000  # characters of a section block's text
TEXT_LIMIT = 40000  # characters of a message's top-level text
MAX_BLOCKS = 50
BUTTONS_PER_BLOCK = 25
TITLE_LIMIT = 75  # a button's plain_text
VALUE_LIMIT = 2000  # a button's value

Block = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackPost:
    """The arguments of one ``chat.postMessage`` call."""

    channel: str
    text: str  # the notification / fallback text, escaped
    blocks: tuple[Block, ...]
    thread_ts: str | None = None
    reply_broadcast: bool = False  # a thread reply also shown in the channel


def escape(text: str) -> str:
    """Slack's control characters as entities: no mention, channel ping or link survives."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escaped_parts(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """``text`` escaped and split on word boundaries so that each escaped part fits ``limit``
    (escaping lengthens a text, so a part that grows past it is split again, finer)."""
    return [p for p in _escaped_parts(text, limit, limit) if p]


def _escaped_parts(text: str, limit: int, size: int) -> list[str]:
    parts: list[str] = []
    for raw in split_text(text, size):
        part = escape(raw)
        if len(part) <= limit or len(raw) <= 1:
            parts.append(part)
        else:
            parts.extend(_escaped_parts(raw, limit, max(1, len(raw) * limit // len(part))))
    return parts


def render(message: OutboundMessage) -> list[SlackPost]:
    """The posts that carry ``message``, in order; SendError(permanent) if it cannot be sent."""
    sections = escaped_parts(message.text) if message.text.strip() else []
    if message.mention and sections:  # a user group ping: the one unescaped mention we write
        sections[0] = f"<!subteam^{escape(message.mention)}> {sections[0]}"
    tail = [*_attachment_blocks(message.attachments), *_button_blocks(message.buttons)]
    if not sections and not tail:
        raise SendError("permanent", "nothing to send: no text, buttons or attachments")
    posts: list[tuple[list[Block], list[str]]] = [([], [])]
    for section in sections:
        blocks, texts = posts[-1]
        length = sum(len(t) + 1 for t in texts) + len(section)
        if blocks and (length > TEXT_LIMIT or len(blocks) >= MAX_BLOCKS):
            posts.append(([], []))
            blocks, texts = posts[-1]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": section}})
        texts.append(section)
    if tail:
        if len(posts[-1][0]) + len(tail) > MAX_BLOCKS:
            posts.append(([], []))
        posts[-1][0].extend(tail)
        if not posts[-1][1]:
            posts[-1][1].append(_fallback(message))
    return [
        SlackPost(
            channel=message.conversation.chat_id,
            text="\n".join(texts),
            blocks=tuple(blocks),
            thread_ts=message.conversation.thread_id,
            reply_broadcast=message.broadcast and bool(message.conversation.thread_id) and n == 0,
        )
        for n, (blocks, texts) in enumerate(posts)
    ]


FIELD_LIMIT = 2000  # characters of a section field
MAX_FIELDS = 10
HEADER_LIMIT = 150


def render_card(card: Card) -> tuple[str, list[Block]]:
    """A handoff card: header, fields, summary, status context and its buttons. Every text is
    escaped or plain_text, so nothing a customer wrote can ping or link."""
    title = card.title.strip() or "Handoff"
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, HEADER_LIMIT)}}
    ]
    fields = [
        {"type": "mrkdwn", "text": _cut(f"*{escape(f.label)}*\n{escape(f.value)}", FIELD_LIMIT)}
        for f in card.fields
    ]
    for i in range(0, len(fields), MAX_FIELDS):
        blocks.append({"type": "section", "fields": fields[i : i + MAX_FIELDS]})
    for part in escaped_parts(card.text) if card.text.strip() else []:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": part}})
    if card.context.strip():
        context = _cut(escape(card.context), SECTION_LIMIT)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    if card.buttons:
        elements = []
        for button in card.buttons:
            element: Block = {
                "type": "button",
                "action_id": button.payload.replace(":", "-"),
                "text": {"type": "plain_text", "text": _title(button.title), "emoji": True},
                "value": button.payload,
            }
            if button.payload.endswith(":claim"):
                element["style"] = "primary"
            elements.append(element)
        blocks.append({"type": "actions", "block_id": "fd-handoff", "elements": elements})
    return escape(title)[:TEXT_LIMIT], blocks


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _button_blocks(buttons: tuple[Button, ...]) -> list[Block]:
    for button in buttons:
        if len(button.payload) > VALUE_LIMIT:
            raise SendError("permanent", f"button payload over {VALUE_LIMIT} characters")
    elements = [
        {
            "type": "button",
            "action_id": f"fd-button-{n}",
            "text": {"type": "plain_text", "text": _title(button.title), "emoji": True},
            "value": button.payload,
        }
        for n, button in enumerate(buttons)
    ]
    return [
        {
            "type": "actions",
            "block_id": f"fd-buttons-{i // BUTTONS_PER_BLOCK}",
            "elements": elements[i : i + BUTTONS_PER_BLOCK],
        }
        for i in range(0, len(elements), BUTTONS_PER_BLOCK)
    ]


def _attachment_blocks(attachments: tuple[Attachment, ...]) -> list[Block]:
    blocks: list[Block] = []
    for a in attachments:
        if a.kind == "image":
            blocks.append({"type": "image", "image_url": a.url, "alt_text": a.name or "image"})
        else:
            label = escape((a.name or a.kind).replace("|", "/"))
            link = f"<{escape(a.url)}|{label}>"
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": link}})
    return blocks


def _title(title: str) -> str:
    title = title.strip() or "…"
    return title if len(title) <= TITLE_LIMIT else title[: TITLE_LIMIT - 1] + "…"


def _fallback(message: OutboundMessage) -> str:
    """The notification text of a post without sections: its buttons or attachments."""
    names = [b.title for b in message.buttons] or [a.name or a.kind for a in message.attachments]
    return escape(" / ".join(names))[:TEXT_LIMIT]
