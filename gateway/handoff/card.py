"""What agents read: the handoff card, the transcript post and the thread lines (pure).

Everything here is plain text; the Slack adapter escapes it, so customer text can neither
ping ``@channel`` nor forge a link. Phone numbers are masked on the card.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from zoneinfo import ZoneInfo

from common.messages import Attachment, Button, Card, CardField
from gateway.handoff.state import HandoffState
from gateway.sessions import Session, TranscriptEntry

CLAIM = "handoff:claim"
RESOLVE = "handoff:resolve"
RETURN = "handoff:return_to_bot"
ACTIONS = {CLAIM: "claim", RESOLVE: "resolve", RETURN: "return_to_bot"}

TRANSCRIPT_ENTRIES = 60  # the newest entries posted in the card's thread


def mask_phone(phone: str) -> str:
    """``+15555550123`` -> ``+15•••••••23``: enough to tell customers apart, not to call."""
    if len(phone) <= 6:
        return "•" * len(phone)
    return phone[:3] + "•" * (len(phone) - 5) + phone[-2:]


def customer_name(session: Session, state: HandoffState) -> str:
    name = state.customer.display_name or session.names.get(state.conversation.channel)
    if not name:
        name = next(iter(session.names.values()), None)
    if name:
        return name
    if state.customer.phone:
        return mask_phone(state.customer.phone)
    return "Customer"


def duration(seconds: float) -> str:
    minutes = int(max(0.0, seconds) // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def clock(at: float, zone: ZoneInfo) -> str:
    return f"{dt.datetime.fromtimestamp(at, zone):%H:%M} {zone.key}"


def status_line(state: HandoffState, now: float) -> str:
    if state.state == "queued":
        return f"Waiting for an agent for {duration(now - state.at)}"
    if state.state == "agent":
        return f"With {state.agent_name or 'an agent'}"
    waited = duration((state.closed_at or now) - state.at)
    by = f" by {state.closed_by}" if state.closed_by else ""
    if state.outcome == "abandoned":
        return f"Closed: the customer left (after {waited})"
    if state.outcome == "returned":
        return f"Returned to the bot{by} (after {waited})"
    return f"Resolved{by} (after {waited})"


def build_card(
    session: Session,
    state: HandoffState,
    now: float,
    zone: ZoneInfo,
    labels: Mapping[str, str],
    closed_note: str = "",
) -> Card:
    """The card for one handoff; ``labels`` name the conversation channels for agents."""
    channel = state.conversation.channel
    where = labels.get(channel, channel)
    if state.customer.phone:
        where += f" · {mask_phone(state.customer.phone)}"
    others = [labels.get(c, c) for c in session.channels if c != channel and c != "slack_thread"]
    if others:
        where += f" (also {', '.join(dict.fromkeys(others))})"
    fields = [
        CardField(label="Customer", value=customer_name(session, state)),
        CardField(label="Channel", value=where),
        CardField(label="Why", value=f"{state.reason or state.trigger} ({state.trigger})"),
        CardField(label="Waiting since", value=clock(state.at, zone)),
    ]
    intent = state.debug.get("intent")
    if intent:
        confidence = state.debug.get("confidence")
        shown = f"{intent} ({confidence:.0%})" if isinstance(confidence, float) else str(intent)
        fields.append(CardField(label="Intent", value=shown))
    known = {k: v for k, v in session.slots.items() if v not in (None, "")}
    if known:
        slots = ", ".join(f"{k}={v}" for k, v in sorted(known.items()))
        fields.append(CardField(label="Known", value=slots[:500]))
    if state.queue:
        fields.append(CardField(label="Queue", value=state.queue))
    fields.append(CardField(label="Status", value=status_line(state, now)))
    buttons: tuple[Button, ...] = ()
    if state.state == "queued":
        buttons = (
            Button(title="Claim", payload=CLAIM),
            Button(title="Resolve", payload=RESOLVE),
            Button(title="Return to bot", payload=RETURN),
        )
    elif state.state == "agent":
        buttons = (
            Button(title="Resolve", payload=RESOLVE),
            Button(title="Return to bot", payload=RETURN),
        )
    context = closed_note or (
        "Reply in the thread to answer the customer; start with // for an internal note; "
        "!claim, !resolve, !bot work in the thread too."
        if state.open
        else ""
    )
    return Card(
        title=f"Handoff: {customer_name(session, state)} on {labels.get(channel, channel)}",
        fields=tuple(fields),
        text=summary_text(state, fields),
        context=context,
        buttons=buttons,
    )


def summary_text(state: HandoffState, fields: Iterable[CardField]) -> str:
    """The card's "Summary": what happened (the customer's question and where the dialog was),
    then what the dialog's own summary adds to the card's fields. Its parts that the fields
    already show ("slots: a=1" beside "Known", "last intent: x" beside "Intent") are left out,
    so the card never says a thing twice."""
    shown = " ".join(f.value for f in fields)
    said: list[str] = []
    question = " ".join(str(state.debug.get("question") or "").split())
    if question:
        cut = question if len(question) <= 200 else question[:199] + "…"
        said.append(f"The customer wrote “{cut}”")
    flow = state.debug.get("flow")
    if isinstance(flow, str) and flow:
        said.append(f"in the {flow} flow")
    happened = " ".join(said)
    extra = [part for part in state.summary.split("; ") if part.strip() and not _shown(part, shown)]
    text = "; ".join(p for p in (happened, *extra) if p)
    return f"Summary: {text}" if text else ""


def _shown(part: str, shown: str) -> bool:
    """Whether every item of a summary part ("slots: a=1, b=2") appears on the card."""
    _, _, items = part.rpartition(": ")
    return all(item.strip() in shown for item in items.split(", "))


def transcript_text(entries: Iterable[TranscriptEntry], name: str, zone: ZoneInfo) -> str:
    lines = []
    for entry in list(entries)[-TRANSCRIPT_ENTRIES:]:
        if entry.direction == "in" and entry.status != "edited":
            who = name
        elif entry.direction == "out":
            who = "Bot"
        else:
            continue
        when = dt.datetime.fromtimestamp(entry.at, zone).strftime("%H:%M")
        lines.append(f"[{when}] {who}: {entry.text}")
    if not lines:
        return "Conversation so far: (nothing yet)"
    return "Conversation so far:\n" + "\n".join(lines)


def attachment_lines(attachments: Iterable[Attachment]) -> list[str]:
    return [f"[{a.kind}{': ' + a.name if a.name else ''}] {a.url}" for a in attachments]
