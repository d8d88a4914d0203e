"""The agents' channel in the terminal: ``frontdesk chat`` plays the agent side of a handoff.

Inside ``frontdesk chat`` only, and only when the real Slack channel is not configured, this
adapter serves the ``slack`` conversation channel in Slack's place. What the handoff desk would
post in the agents' Slack channel (the card, thread posts, card updates, ephemerals, delivery
marks) is printed as ``agents> …`` lines, plainly (no Slack escaping); each card gets a fake
``ts`` so the desk's thread map works as with Slack. Agent commands typed in the terminal become
the same ``AgentEvent``s the Slack parser makes (``channels.slack.agents``), on the thread of
the latest card, for the gateway's ingest to resolve to the customer's lane:

``/claim``, ``/reply TEXT`` (or ``/agent TEXT``), ``/note TEXT`` (or a line starting with the
note prefix), ``/resolve``, ``/bot``; Slack's thread commands ``!claim``, ``!resolve``,
``!bot`` work too.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable

from channels.base import Capabilities, WebhookLess
from channels.slack.agents import COMMANDS, THREAD_CUSTOMER
from common.messages import (
    AgentAction,
    AgentEvent,
    Card,
    ConversationRef,
    CustomerRef,
    OutboundMessage,
)

PREFIX = "agents> "
AGENT_ID = "UCONSOLE"
AGENT_NAME = "Agent"
ACTIONS: dict[str, AgentAction] = {
    **COMMANDS,
    "/claim": "claim",
    "/resolve": "resolve",
    "/bot": "return_to_bot",
    "/return": "return_to_bot",
}
TEXT_COMMANDS = ("/reply", "/agent", "/note")
BUTTON_COMMANDS = {
    "handoff:claim": "/claim",
    "handoff:resolve": "/resolve",
    "handoff:return_to_bot": "/bot",
}
MARKS = {
    "heavy_check_mark": "✔ sent to the customer",
    "white_check_mark": "✅ delivered to the customer",
    "x": "❌ not delivered",
}
HELP = (
    "When the bot hands over, you are the agents too: /claim, /reply TEXT, /note TEXT, "
    "/resolve, /bot."
)


class ConsoleAgents(WebhookLess):
    def __init__(
        self,
        write: Callable[[str], None],
        *,
        channel: str,
        note_prefix: str = "//",
        agent_id: str = AGENT_ID,
        agent_name: str = AGENT_NAME,
    ) -> None:
        self.name = "slack"
        self.conversation_channels = ("slack",)
        self.capabilities = {"slack": Capabilities(label="Slack", buttons=True)}
        self.channel = channel
        self.note_prefix = note_prefix
        self.agent_id = agent_id
        self.agent_name = agent_name
        self._write = write
        self._session = uuid.uuid4().hex[:8]
        self._seq = itertools.count(1)
        self._ts = itertools.count(1)
        self._card: str | None = None  # the latest card's ts: commands act on its thread
        self._said: dict[str, str] = {}  # an agent's message ts -> its text (for marks)

    # ------------------------------------------------------------ agent input

    def is_command(self, text: str) -> bool:
        word = text.split(maxsplit=1)[0].lower() if text.strip() else ""
        prefix = self.note_prefix
        return word in ACTIONS or word in TEXT_COMMANDS or bool(prefix and text.startswith(prefix))

    def command(self, text: str) -> AgentEvent | str:
        """The agent event for a typed command, or why there is none (to print)."""
        word, _, rest = text.strip().partition(" ")
        word, rest = word.lower(), rest.strip()
        action: AgentAction
        if word in ACTIONS:
            action, body = ACTIONS[word], ""
        elif word in ("/reply", "/agent"):
            action, body = "reply", rest
        elif word == "/note":
            # As in Slack: a note is a thread reply that starts with the note prefix.
            action = "reply" if self.note_prefix else "note"
            body = f"{self.note_prefix} {rest}".strip()
        else:
            action, body = "reply", text.strip()  # starts with the note prefix
        if action in ("reply", "note") and not rest and word in TEXT_COMMANDS:
            return f"{word} needs a text, e.g. {word} Hello!"
        if self._card is None:
            return "No handoff to act on yet: the bot hands over when the customer asks."
        ts = self._next_ts()
        if body:
            self._said[ts] = body
        if action == "note" or (self.note_prefix and body.startswith(self.note_prefix)):
            self._lines(self._labelled("[thread, internal note]", body))
        return AgentEvent(
            event_id=f"console-agent-{self._session}-{next(self._seq)}",
            conversation=ConversationRef(
                channel="slack", chat_id=self.channel, thread_id=self._card
            ),
            customer=CustomerRef(channel=THREAD_CUSTOMER, user_id=f"{self.channel}:{self._card}"),
            action=action,
            agent_id=self.agent_id,
            agent_name=self.agent_name,
            text=body,
            message_ts=ts,
        )

    # ------------------------------------------------------------ desk output

    async def send(self, message: OutboundMessage) -> str:
        purpose = message.purpose
        if purpose == "card" and message.card is not None:
            self._card = self._next_ts()
            self._lines(self._card_lines(message.card))
            return self._card
        if purpose == "card_update" and message.card is not None:
            status = next((f.value for f in message.card.fields if f.label == "Status"), "")
            self._lines([f"[card updated] {message.card.title}: {status}"])
            return message.target or ""
        if purpose == "ephemeral":
            self._lines(self._labelled("[only you see this]", message.text))
            return self._next_ts()
        if purpose == "reaction":
            said = self._said.get(message.target or "", "")
            mark = MARKS.get(message.reaction or "", f":{message.reaction}:")
            self._lines([f"{mark}: {said}" if said else mark])
            return message.target or ""
        label = "[thread]"
        if message.broadcast:
            label = "[thread, also in the channel]"
        text = f"@{message.mention} {message.text}" if message.mention else message.text
        self._lines(self._labelled(label, text))
        return self._next_ts()

    def _card_lines(self, card: Card) -> list[str]:
        lines = [f"[card] {card.title}"]
        lines += [f"  {f.label}: {f.value}" for f in card.fields]
        if card.text:
            lines += [f"  {line}" for line in card.text.splitlines()]
        if card.buttons:
            shown = [BUTTON_COMMANDS.get(b.payload, b.title) for b in card.buttons]
            lines.append("  Buttons: " + "  ".join(shown))
        if card.context:
            lines.append(f"  ({card.context})")
        return lines

    @staticmethod
    def _labelled(label: str, text: str) -> list[str]:
        first, *more = text.splitlines() or [""]
        pad = " " * (len(label) + 1)
        return [f"{label} {first}", *(pad + line for line in more)]

    def _lines(self, lines: list[str]) -> None:
        for line in lines:
            self._write(PREFIX + line)

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    # ------------------------------------------------------- channel contract
