"""Slack's inbound bodies, decoded and turned into normalised customer events (pure).

One route carries three kinds of body: Events API JSON, interactivity (form body
``payload=<json>``) and slash commands (form body). :func:`decode` tells them apart and
:func:`customer_events` maps a decoded body to the events the bot must answer:

- ``message`` in a direct message with the app (``channel_type: im``), answered at the top level
  of the DM or in the thread it was written in;
- ``app_mention`` in a channel, with the bot's mention stripped, answered in a thread on the
  mention (Slack sends no ``app_mention`` for DMs; plain channel ``message`` events are dropped,
  so a mention also delivered as ``message.channels`` is answered once);
- ``message_changed`` as an edit (``edited=True``: recorded in the transcript, not answered);
- a pressed button (``block_actions``), with the button's value as ``button_payload``;
- a slash command, with ``text`` = the command and its argument.

Dropped (acknowledged, no event): messages with a ``bot_id`` or subtype ``bot_message`` (ours
and other apps'), the bot user's own messages, ``message_deleted`` and other subtypes, other event
types and interactions. A customer's ``user_id`` is ``"<team id>:<user id>"`` with the workspace
the request was sent for (the envelope's ``team_id``, the action's ``team.id``, the command's
``team_id``), so one person is the same customer in DMs, mentions, buttons and commands.
Event ids are namespaced: ``slack:ev:<event_id>`` (Slack's retries, ``X-Slack-Retry-Num``, resend
the same one), ``slack:action:<message ts>:<action ts>``, ``slack:command:<trigger_id>``.
Slack's text escapes (``&amp;`` ``&lt;`` ``&gt;``) are decoded; mentions and links stay in
Slack's ``<...>`` syntax.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

from channels.base import WebhookRejected, WebhookRequest, load_json
from common.messages import (
    Attachment,
    ConversationRef,
    CustomerMessage,
    CustomerRef,
    InboundEvent,
)

CHANNEL = "slack"
BodyKind = Literal["url_verification", "event", "interaction", "command", "ssl_check"]
# Message subtypes written by a person that the bot answers like a plain message.
_ANSWERED_SUBTYPES = frozenset({"file_share", "thread_broadcast", "me_message"})
_FILE_KINDS: dict[str, Literal["image", "audio", "video", "file"]] = {
    "image": "image",
    "audio": "audio",
    "video": "video",
}
_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackBody:
    """A decoded request body: its kind and its JSON (or form fields, for commands)."""

    kind: BodyKind
    data: dict[str, Any]

    @property
    def channel_id(self) -> str | None:
        """The Slack conversation the body comes from, where it has one."""
        if self.kind == "event":
            event = self.data.get("event")
            return _str(event.get("channel")) if isinstance(event, dict) else None
        if self.kind == "interaction":
            container = _dict(self.data.get("container"))
            channel = _dict(self.data.get("channel"))
            return _str(container.get("channel_id")) or _str(channel.get("id"))
        if self.kind == "command":
            return _str(self.data.get("channel_id"))
        return None


def decode(request: WebhookRequest) -> SlackBody:
    """The kind and content of a verified body; WebhookRejected(400) if malformed."""
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected(400, "body is not UTF-8") from None
    content_type = (request.header("content-type") or "").lower()
    if "json" in content_type or (not content_type and text.lstrip().startswith("{")):
        data = _json_object(text, "body")
        kind = data.get("type")
        if kind == "url_verification":
            if not isinstance(data.get("challenge"), str):
                raise WebhookRejected(400, "url_verification without a challenge")
            return SlackBody(kind="url_verification", data=data)
        if not isinstance(kind, str):
            raise WebhookRejected(400, "Events API body without a type")
        return SlackBody(kind="event", data=data)
    try:
        form = dict(parse_qsl(text, keep_blank_values=True, strict_parsing=True))
    except ValueError:
        raise WebhookRejected(400, "body is neither JSON nor a form") from None
    if "payload" in form:
        return SlackBody(kind="interaction", data=_json_object(form["payload"], "payload"))
    if "command" in form:
        return SlackBody(kind="command", data=form)
    if form.get("ssl_check") == "1":
        return SlackBody(kind="ssl_check", data=form)
    raise WebhookRejected(400, "form body is neither an interaction nor a slash command")


def customer_events(body: SlackBody, *, bot_user_ids: Collection[str]) -> list[InboundEvent]:
    """The customer events in a body from a customer conversation (not the handoff channel).
    ``bot_user_ids``: our bot user's ids (their mentions are stripped, their messages dropped)."""
    if body.kind == "event":
        return _event(body.data, bot_user_ids)
    if body.kind == "interaction":
        return _interaction(body.data)
    if body.kind == "command":
        return [_command(body.data)]
    return []


def envelope_bot_ids(data: dict[str, Any]) -> set[str]:
    """The bot user ids an Events API envelope names (``authorizations`` with ``is_bot``)."""
    return {
        uid
        for a in _list(data.get("authorizations"))
        if isinstance(a, dict) and a.get("is_bot") and isinstance(uid := a.get("user_id"), str)
    }


def _strip_mentions(text: str, ids: Collection[str]) -> str:
    stripped = _MENTION.sub(lambda m: "" if m.group(1) in ids else m.group(0), text)
    return re.sub(r"[ \t]{2,}", " ", stripped).strip()


# --------------------------------------------------------------------------- Events API


def _event(data: dict[str, Any], bot_user_ids: Collection[str]) -> list[InboundEvent]:
    if data.get("type") != "event_callback":
        return []  # app_rate_limited and other envelope types
    event = data.get("event")
    if not isinstance(event, dict):
        raise WebhookRejected(400, "event_callback without an event")
    event_id = _required(data, "event_id")
    team = _str(data.get("team_id")) or _str(event.get("team")) or ""
    bots = set(bot_user_ids) | envelope_bot_ids(data)
    # Older envelopes name the bot user only in ``authed_users``: enough to strip its mention,
    # not to drop a person's message (a user-token installer appears there too).
    mentioned = bots | {u for u in _list(data.get("authed_users")) if isinstance(u, str)}
    kind = event.get("type")
    if kind == "app_mention":
        if _from_bot(event, bots):
            return []
        ts = _required(event, "ts")
        return [
            _message(
                event_id=f"slack:ev:{event_id}",
                team=team,
                user=_required(event, "user"),
                chat=_required(event, "channel"),
                thread=_str(event.get("thread_ts")) or ts,
                text=_unescape(_strip_mentions(_text(event), mentioned)),
                files=event.get("files"),
            )
        ]
    if kind != "message":
        return []
    subtype = event.get("subtype")
    if subtype is not None and not isinstance(subtype, str):
        raise WebhookRejected(400, "event.subtype must be a string")
    if subtype == "message_changed":
        return _edited(event, event_id, team, bots, mentioned)
    if subtype is not None and subtype not in _ANSWERED_SUBTYPES:
        return []  # message_deleted, channel_join, bot_message, ...
    if _from_bot(event, bots) or event.get("channel_type") != "im":
        return []  # channel messages reach the bot as app_mention
    return [
        _message(
            event_id=f"slack:ev:{event_id}",
            team=team,
            user=_required(event, "user"),
            chat=_required(event, "channel"),
            thread=_str(event.get("thread_ts")),
            text=_unescape(_text(event)),
            files=event.get("files"),
        )
    ]


def _edited(
    event: dict[str, Any], event_id: str, team: str, bots: set[str], mentioned: set[str]
) -> list[InboundEvent]:
    new = _dict(event.get("message"))
    if _from_bot(new, bots) or not isinstance(new.get("user"), str):
        return []
    old = _dict(event.get("previous_message"))
    if old and _text(old) == _text(new) and old.get("files") == new.get("files"):
        return []  # Slack unfurled a link or changed metadata: not an edit by the customer
    in_dm = event.get("channel_type") == "im"
    # A channel conversation lives in the thread on the message that mentioned the bot.
    thread = _str(new.get("thread_ts")) or (
        None if in_dm else _str(new.get("ts")) or _str(old.get("ts"))
    )
    return [
        _message(
            event_id=f"slack:ev:{event_id}",
            team=team,
            user=new["user"],
            chat=_required(event, "channel"),
            thread=thread,
            text=_unescape(_strip_mentions(_text(new), mentioned)),
            files=new.get("files"),
            edited=True,
        )
    ]


def _from_bot(event: dict[str, Any], bots: Collection[str]) -> bool:
    return (
        bool(event.get("bot_id"))
        or event.get("subtype") == "bot_message"
        or (_str(event.get("user")) or "") in bots
    )


# --------------------------------------------------------------------------- interactivity


def _interaction(data: dict[str, Any]) -> list[InboundEvent]:
    if data.get("type") != "block_actions":
        return []  # view_submission, shortcuts, ...: not customer messages
    user = _dict(data.get("user"))
    team = _str(_dict(data.get("team")).get("id")) or _str(user.get("team_id")) or ""
    container = _dict(data.get("container"))
    message = _dict(data.get("message"))
    chat = _str(container.get("channel_id")) or _str(_dict(data.get("channel")).get("id"))
    if chat is None:
        raise WebhookRejected(400, "block_actions without a channel")
    anchor = (
        _str(container.get("message_ts"))
        or _str(message.get("ts"))
        or _required(data, "trigger_id")
    )
    thread = _str(container.get("thread_ts")) or _str(message.get("thread_ts"))
    events: list[InboundEvent] = []
    for action in _list(data.get("actions")):
        if not isinstance(action, dict):
            raise WebhookRejected(400, "block_actions with a malformed action")
        value = _str(action.get("value")) or _str(_dict(action.get("selected_option")).get("value"))
        if value is None:
            continue  # a link button or a control without a value
        events.append(
            CustomerMessage(
                event_id=f"slack:action:{anchor}:{_required(action, 'action_ts')}",
                conversation=ConversationRef(channel=CHANNEL, chat_id=chat, thread_id=thread),
                customer=CustomerRef(
                    channel=CHANNEL,
                    user_id=f"{team}:{_required(user, 'id')}",
                    display_name=_str(user.get("name")) or _str(user.get("username")),
                ),
                button_payload=value,
            )
        )
    return events


# --------------------------------------------------------------------------- slash commands


def _command(form: dict[str, Any]) -> CustomerMessage:
    command = _required(form, "command")
    argument = str(form.get("text") or "").strip()
    return CustomerMessage(
        event_id=f"slack:command:{_required(form, 'trigger_id')}",
        conversation=ConversationRef(channel=CHANNEL, chat_id=_required(form, "channel_id")),
        customer=CustomerRef(
            channel=CHANNEL,
            user_id=f"{form.get('team_id') or ''}:{_required(form, 'user_id')}",
            display_name=_str(form.get("user_name")),
        ),
        text=f"{command} {argument}".strip(),
    )


# --------------------------------------------------------------------------- helpers


def _message(
    *,
    event_id: str,
    team: str,
    user: str,
    chat: str,
    thread: str | None,
    text: str,
    files: Any,
    edited: bool = False,
) -> CustomerMessage:
    return CustomerMessage(
        event_id=event_id,
        conversation=ConversationRef(channel=CHANNEL, chat_id=chat, thread_id=thread),
        customer=CustomerRef(channel=CHANNEL, user_id=f"{team}:{user}"),
        text=text.strip(),
        attachments=_attachments(files),
        edited=edited,
    )


def _attachments(files: Any) -> tuple[Attachment, ...]:
    """Slack files; ``url_private`` needs the bot token (``files:read``) to download."""
    out: list[Attachment] = []
    for f in files if isinstance(files, list) else []:
        if not isinstance(f, dict) or not isinstance(url := f.get("url_private"), str):
            continue
        mime = _str(f.get("mimetype"))
        kind = _FILE_KINDS.get((mime or "").split("/", 1)[0], "file")
        out.append(Attachment(kind=kind, url=url, mime_type=mime, name=_str(f.get("name"))))
    return tuple(out)


def _unescape(text: str) -> str:
    """Slack escapes exactly these three in message text."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(event: dict[str, Any]) -> str:
    text = event.get("text")
    return text if isinstance(text, str) else ""


def _json_object(text: str, what: str) -> dict[str, Any]:
    data = load_json(text, what)
    if not isinstance(data, dict):
        raise WebhookRejected(400, f"{what} must be a JSON object")
    return data


def _required(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise WebhookRejected(400, f"missing field {name!r}")
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _list(value: Any) -> list[Any]:
    """A list from the body, or empty when absent; WebhookRejected(400) for another type."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise WebhookRejected(400, f"expected a list, got {type(value).__name__}")
    return value


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
