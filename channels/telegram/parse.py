"""Telegram ``Update`` JSON to normalised inbound events (pure).

The dict is read directly rather than through ``telegram.Update.de_json``: Telegram's own
documentation examples (and old clients) omit ``from.is_bot``, which python-telegram-bot
requires, and an update the gateway cannot deserialise must still be acknowledged or dropped
rather than retried forever. Unknown keys are ignored.

Choices (documented in the README's Telegram section):

- ``event_id`` is ``tg:<update_id>``.
- Media become attachments whose URL is ``tg-file:<file_id>`` (see :data:`FILE_URL_PREFIX`):
  Telegram gives a file id, not a URL; ``TelegramChannel.file_url`` turns it into a download
  URL (``getFile``), and ``send`` accepts it back to re-send the same file.
- ``/start PAYLOAD`` (a ``t.me/<bot>?start=PAYLOAD`` deep link) arrives as text ``/start``
  with ``button_payload=PAYLOAD``.
- In groups and supergroups a message is for the bot only when it mentions the bot
  (``@username`` or a text mention), is a command without a bot name or with ours, or replies
  to one of the bot's messages; the mention and the ``@username`` of a command are removed from
  the text. Anything else is dropped. Messages from bots are dropped.
- An edited message is a ``CustomerMessage(edited=True)``: recorded, not answered.
- A button press on an inline message (no chat) is answered in the user's private chat.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

from channels.base import WebhookRejected, WebhookRetryLater
from common.messages import (
    Attachment,
    ConversationRef,
    CustomerMessage,
    CustomerRef,
    InboundEvent,
    Location,
)

CHANNEL = "telegram"
FILE_URL_PREFIX = "tg-file:"
# The update types parse() understands; setWebhook / getUpdates ask for these only.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
GROUP_CHATS = frozenset({"group", "supergroup"})
_START = re.compile(r"^/start\s+(\S+)\s*$")

Json = Mapping[str, Any]
AttachmentKind = Literal["image", "audio", "video", "file", "sticker"]


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """Who the bot is (from ``getMe``): needed to tell whether a group message is for it."""

    id: int
    username: str


class BotIdentityUnknown(WebhookRetryLater):
    """A group message arrived before ``getMe`` succeeded; the webhook must be retried (503,
    ``Retry-After: 5``): the gateway cannot yet tell whether the message is for the bot."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, retry_after=5)


PayloadLookup = Callable[[str], str | None]


def _none(_: str) -> str | None:
    return None


def parse_update(
    update: object, *, bot: BotIdentity | None, payload_for: PayloadLookup = _none
) -> list[InboundEvent]:
    """The events in one update; ``[]`` for what the bot must not answer.

    ``payload_for`` maps the ``callback_data`` of a long button payload back to the payload
    (see ``render.callback_data``). Raises WebhookRejected(400) if this is not an update.
    """
    if not isinstance(update, Mapping) or not _is_int(update.get("update_id")):
        raise WebhookRejected(400, "not a Telegram update (no integer update_id)")
    event_id = f"tg:{update['update_id']}"
    if "message" in update:
        return _message(event_id, _obj(update, "message"), bot, edited=False)
    if "edited_message" in update:
        return _message(event_id, _obj(update, "edited_message"), bot, edited=True)
    if "callback_query" in update:
        return _callback(event_id, _obj(update, "callback_query"), payload_for)
    return []  # channel posts, inline queries, membership changes...: not conversations


def _message(
    event_id: str, msg: Json, bot: BotIdentity | None, *, edited: bool
) -> list[InboundEvent]:
    chat = _obj(msg, "chat")
    sender = msg.get("from")
    if not isinstance(sender, Mapping) or sender.get("is_bot") is True:
        return []  # channel-like or anonymous senders, other bots (and ourselves)
    entities_key = "entities" if "text" in msg else "caption_entities"
    text = _str(msg.get("text", msg.get("caption")))
    entities = _entities(msg.get(entities_key))
    chat_type = chat.get("type")
    if not isinstance(chat_type, str):
        raise WebhookRejected(400, "chat.type must be a string")
    if chat_type in GROUP_CHATS:
        if bot is None:
            raise BotIdentityUnknown("group message before getMe succeeded")
        if not _addressed_to(bot, msg, text, entities):
            return []
        text = _strip_bot_name(bot, text, entities)
    elif chat_type == "channel":
        return []
    attachments = _attachments(msg)
    location = _location(msg)
    payload = None
    match = _START.match(text)
    if match:
        text, payload = "/start", match.group(1)
    if not (text or attachments or location):
        return []  # service messages: members joined, pinned, ...
    return [
        CustomerMessage(
            event_id=event_id,
            conversation=_conversation(chat, msg),
            customer=_customer(sender),
            text=text.strip(),
            attachments=attachments,
            location=location,
            button_payload=payload,
            edited=edited,
        )
    ]


def _conversation(chat: Json, message: Json) -> ConversationRef:
    """The chat to answer in; a forum topic's thread only for topic messages."""
    thread = message.get("message_thread_id") if message.get("is_topic_message") else None
    return ConversationRef(
        channel=CHANNEL,
        chat_id=str(_id(chat)),
        thread_id=str(thread) if _is_int(thread) else None,
    )


def _callback(event_id: str, query: Json, payload_for: PayloadLookup) -> list[InboundEvent]:
    sender = _obj(query, "from")
    query_id = query.get("id")
    if not isinstance(query_id, str):
        raise WebhookRejected(400, "callback_query without an id")
    data = _str(query.get("data"))
    if not data:
        return []  # a game button: nothing the dialog understands
    message = query.get("message")
    if isinstance(message, Mapping) and isinstance(message.get("chat"), Mapping):
        conversation = _conversation(message["chat"], message)
    else:  # a button on an inline message: answer in the user's private chat
        conversation = _conversation(sender, {})
    text, payload = "", payload_for(data) or data
    if data.startswith("~h:") and payload == data:
        # A hashed long payload this process does not know: the pressed button's title is
        # the next best thing (it is what the customer saw and chose).
        title = _button_title(message, data)
        if title is not None:
            text, payload = title, ""
    return [
        CustomerMessage(
            event_id=event_id,
            conversation=conversation,
            customer=_customer(sender),
            text=text,
            button_payload=payload or None,
            interaction_id=query_id,
        )
    ]


def _button_title(message: object, data: str) -> str | None:
    markup = message.get("reply_markup") if isinstance(message, Mapping) else None
    rows = markup.get("inline_keyboard") if isinstance(markup, Mapping) else None
    for row in rows if isinstance(rows, list) else []:
        for button in row if isinstance(row, list) else []:
            if isinstance(button, Mapping) and button.get("callback_data") == data:
                return _str(button.get("text")) or None
    return None


# --------------------------------------------------------------------------- groups


@dataclass(frozen=True, slots=True)
class _Entity:
    type: str
    offset: int  # in UTF-16 code units, as Telegram counts
    length: int
    user_id: int | None


def _entities(raw: object) -> list[_Entity]:
    out: list[_Entity] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, Mapping):
            continue
        offset, length = item.get("offset"), item.get("length")
        if not (_is_int(offset) and _is_int(length)):
            continue
        user = item.get("user")
        user_id = user.get("id") if isinstance(user, Mapping) else None
        out.append(
            _Entity(_str(item.get("type")), offset, length, user_id if _is_int(user_id) else None)
        )
    return out


def _utf16_slice(text: str, start: int, end: int) -> str:
    units = text.encode("utf-16-le")
    return units[start * 2 : end * 2].decode("utf-16-le", errors="ignore")


def _names_bot(bot: BotIdentity, text: str, entity: _Entity) -> bool:
    """Whether a mention or command entity addresses the bot."""
    part = _utf16_slice(text, entity.offset, entity.offset + entity.length)
    if entity.type == "mention":
        return part.casefold() == f"@{bot.username}".casefold()
    if entity.type == "text_mention":
        return entity.user_id == bot.id
    if entity.type == "bot_command" and entity.offset == 0:
        _, at, name = part.partition("@")
        return not at or name.casefold() == bot.username.casefold()
    return False


def _addressed_to(bot: BotIdentity, msg: Json, text: str, entities: list[_Entity]) -> bool:
    reply = msg.get("reply_to_message")
    if isinstance(reply, Mapping):
        author = reply.get("from")
        if isinstance(author, Mapping) and author.get("id") == bot.id:
            return True
    return any(_names_bot(bot, text, e) for e in entities)


def _strip_bot_name(bot: BotIdentity, text: str, entities: list[_Entity]) -> str:
    """``@bot what is my balance`` -> ``what is my balance``; ``/help@bot`` -> ``/help``."""
    units = text.encode("utf-16-le")
    for e in sorted(entities, key=lambda e: e.offset, reverse=True):
        start, end = e.offset * 2, (e.offset + e.length) * 2
        if e.type == "mention" and _names_bot(bot, text, e):
            units = units[:start] + units[end:]
        elif e.type == "bot_command" and _names_bot(bot, text, e):
            command = units[start:end].decode("utf-16-le", errors="ignore").partition("@")[0]
            units = units[:start] + command.encode("utf-16-le") + units[end:]
    return " ".join(units.decode("utf-16-le", errors="ignore").split())


# --------------------------------------------------------------------------- content


def _attachments(msg: Json) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    photos = msg.get("photo")
    if isinstance(photos, list) and photos:
        sizes = [p for p in photos if isinstance(p, Mapping) and "file_id" in p]
        if sizes:
            largest = max(sizes, key=lambda p: _int(p.get("width")) * _int(p.get("height")))
            found.append(_file("image", largest, "image/jpeg"))
    kinds: tuple[tuple[str, AttachmentKind], ...] = (
        ("animation", "video"),
        ("video", "video"),
        ("video_note", "video"),
        ("voice", "audio"),
        ("audio", "audio"),
        ("sticker", "sticker"),
    )
    for key, kind in kinds:
        media = msg.get(key)
        if isinstance(media, Mapping) and "file_id" in media:
            found.append(_file(kind, media, None))
    document = msg.get("document")
    if isinstance(document, Mapping) and "file_id" in document and "animation" not in msg:
        found.append(_file("file", document, None))  # an animation repeats itself as document
    return tuple(found)


def _file(kind: AttachmentKind, media: Json, default_mime: str | None) -> Attachment:
    return Attachment(
        kind=kind,
        url=f"{FILE_URL_PREFIX}{_file_id(media)}",
        mime_type=_str(media.get("mime_type")) or default_mime,
        name=_str(media.get("file_name")) or None,
    )


def _location(msg: Json) -> Location | None:
    venue = msg.get("venue")
    raw = venue.get("location") if isinstance(venue, Mapping) else msg.get("location")
    if not isinstance(raw, Mapping):
        return None
    lat, lon = raw.get("latitude"), raw.get("longitude")
    if not (_is_number(lat) and _is_number(lon)):
        return None
    named = venue if isinstance(venue, Mapping) else {}
    return Location(
        latitude=lat,  # Location checks: finite, within ±90 / ±180
        longitude=lon,
        name=_str(named.get("title")) or None,
        address=_str(named.get("address")) or None,
    )


def _customer(user: Json) -> CustomerRef:
    first, last = _str(user.get("first_name")), _str(user.get("last_name"))
    name = " ".join(filter(None, [first, last])) or _str(user.get("username")) or None
    return CustomerRef(channel=CHANNEL, user_id=str(_id(user)), display_name=name)


# --------------------------------------------------------------------------- helpers


def _obj(data: Json, key: str) -> Json:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise WebhookRejected(400, f"{key!r} must be an object")
    return value


def _id(data: Json) -> int:
    value = data.get("id")
    if not _is_int(value):
        raise WebhookRejected(400, "missing integer id")
    return int(value)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: object) -> int:
    """An optional integer field (a photo's width): 0 when absent, 400 when not an integer."""
    if value is None:
        return 0
    if not _is_int(value):
        raise WebhookRejected(400, "expected an integer")
    return value


def _file_id(media: Json) -> str:
    value = media.get("file_id")
    if not isinstance(value, str) or not value:
        raise WebhookRejected(400, "file_id must be a non-empty string")
    return value


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""
