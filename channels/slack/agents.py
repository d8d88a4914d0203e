"""Agents' events in the handoff channel, as normalised ``AgentEvent``s (pure).

- A person's message in a thread of the channel is a ``reply`` (the handoff desk decides
  whether it is an internal note, by its prefix), or a thread command: ``!claim``,
  ``!resolve``, ``!bot`` (also ``!return``). Slack does not deliver slash commands typed in a
  thread with the thread they were typed in, so the thread commands are plain messages.
- A press on a card's button (``handoff:claim``, ``handoff:resolve``, ``handoff:return_to_bot``)
  is that action, on the card's thread.

Everything else in the channel (top-level chatter, bots' messages, edits, deletions, slash
commands) yields nothing. The events do not know their customer yet: ``customer`` is a
placeholder (channel ``slack_thread``, the thread's ts) that the gateway's ingest resolves
through the thread map kept when the card was posted. Event ids: ``slack:ev:<event_id>``
(Slack's retries resend it, so a reply is relayed once) and
``slack:action:<card ts>:<action ts>``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from channels.base import WebhookRejected
from channels.slack.inbound import (
    SlackBody,
    _attachments,
    _dict,
    _from_bot,
    _list,
    _str,
    _unescape,
    envelope_bot_ids,
)
from common.messages import (
    SUGGEST_PREFIX,
    AgentAction,
    AgentEvent,
    ConversationRef,
    CustomerRef,
    InboundEvent,
)

THREAD_CUSTOMER = "slack_thread"
BUTTONS: dict[str, AgentAction] = {
    "handoff:claim": "claim",
    "handoff:resolve": "resolve",
    "handoff:return_to_bot": "return_to_bot",
    "handoff:teach": "teach",  # after Resolve: the answer becomes a draft FAQ entry
}
COMMANDS: dict[str, AgentAction] = {
    "!claim": "claim",
    "!resolve": "resolve",
    "!bot": "return_to_bot",
    "!return": "return_to_bot",
}
_REPLY_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]+))?>")
_MENTION = re.compile(r"<[@#!]([^|>]+)(?:\|([^>]+))?>")


def agent_events(
    body: SlackBody, *, channel: str, bot_user_ids: Collection[str] = ()
) -> list[InboundEvent]:
    if body.kind == "event":
        return _message(body.data, channel, bot_user_ids)
    if body.kind == "interaction":
        return _buttons(body.data, channel)
    return []


def plain_text(text: str) -> str:
    """An agent's Slack text as the customer should read it: links as ``label (url)``,
    mentions as their label, Slack's escapes decoded."""
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})" if m.group(2) else m.group(1), text)
    text = _MENTION.sub(lambda m: m.group(2) or m.group(1), text)
    return _unescape(text).strip()


def _placeholder(channel: str, thread: str) -> tuple[ConversationRef, CustomerRef]:
    return (
        ConversationRef(channel="slack", chat_id=channel, thread_id=thread),
        CustomerRef(channel=THREAD_CUSTOMER, user_id=f"{channel}:{thread}"),
    )


def _message(data: dict[str, Any], channel: str, bots: Collection[str]) -> list[InboundEvent]:
    event = _dict(data.get("event"))
    if data.get("type") != "event_callback" or event.get("type") != "message":
        return []  # app_mention too: the same message also arrives as a channel message
    subtype = event.get("subtype")
    if subtype is not None and not isinstance(subtype, str):
        raise WebhookRejected(400, "event.subtype must be a string")
    if subtype not in _REPLY_SUBTYPES:
        return []
    if _from_bot(event, set(bots) | envelope_bot_ids(data)):
        return []
    thread, ts, user = _str(event.get("thread_ts")), _str(event.get("ts")), _str(event.get("user"))
    event_id = _str(data.get("event_id"))
    if thread is None or ts is None or thread == ts or user is None or event_id is None:
        return []  # top-level chatter in the channel, not a reply to a card
    raw = event.get("text")
    text = plain_text(raw if isinstance(raw, str) else "")
    action: AgentAction = COMMANDS.get(text.split(" ", 1)[0].lower() if text else "", "reply")
    conversation, customer = _placeholder(channel, thread)
    return [
        AgentEvent(
            event_id=f"slack:ev:{event_id}",
            conversation=conversation,
            customer=customer,
            action=action,
            agent_id=user,
            text=text if action == "reply" else "",
            attachments=_attachments(event.get("files")) if action == "reply" else (),
            message_ts=ts,
        )
    ]


def _buttons(data: dict[str, Any], channel: str) -> list[InboundEvent]:
    if data.get("type") != "block_actions":
        return []
    user = _dict(data.get("user"))
    container = _dict(data.get("container"))
    # A button on a post in the card's thread (suggested answers) names the card as thread_ts.
    card = (
        _str(container.get("thread_ts"))
        or _str(container.get("message_ts"))
        or _str(_dict(data.get("message")).get("ts"))
    )
    agent = _str(user.get("id"))
    if card is None or agent is None:
        return []
    events: list[InboundEvent] = []
    for action in _list(data.get("actions")):
        value = _str(_dict(action).get("value"))
        kind = BUTTONS.get(value or "")
        suggested = ""
        if kind is None and value and value.startswith(SUGGEST_PREFIX):
            kind, suggested = "suggest", value.removeprefix(SUGGEST_PREFIX)
        action_ts = _str(_dict(action).get("action_ts"))
        if kind is None or action_ts is None:
            continue
        conversation, customer = _placeholder(channel, card)
        events.append(
            AgentEvent(
                event_id=f"slack:action:{card}:{action_ts}",
                conversation=conversation,
                customer=customer,
                action=kind,
                agent_id=agent,
                agent_name=_str(user.get("name")) or _str(user.get("username")),
                text=suggested,
            )
        )
    return events
