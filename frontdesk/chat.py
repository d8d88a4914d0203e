"""``frontdesk chat``: a terminal on both ends of the real pipeline.

Each typed line is a console-channel event: it is ingested, handled by the turn worker and the
configured bot (NLU + dialog YAML), and the reply comes back through the outbox to the console
adapter, which prints it. With ``--debug`` (the default) each reply is followed by why the bot
said it: intent, confidence, entities, sentiment, flow and step.

When the real Slack channel is not configured, the terminal is the agents' channel too
(``channels.console_agents``): a handoff runs the real desk, its card and thread posts are
printed as ``agents> …`` lines, and ``/claim``, ``/reply TEXT``, ``/note TEXT``, ``/resolve``,
``/bot`` act as the agent, through the same ingest and customer lane as Slack's events.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping
from typing import Any

from channels.console import ConsoleChannel
from channels.console_agents import HELP, ConsoleAgents
from common.messages import CustomerMessage, InboundEvent, OutboundMessage
from dialogs.base import Outcome, SystemEvent, TurnContext
from frontdesk.app import build_gateway, enabled_channels
from frontdesk.assembly import bot_dialog
from frontdesk.config import Settings
from gateway.store import LANES, Store, StoreUnavailable

PROMPT = "you> "
CONSOLE_AGENTS_CHANNEL = "console-agents"  # the agents' "channel id" when none is configured
SETTLE_TIMEOUT = 30.0  # seconds to wait for a turn's effects before prompting again


async def chat(
    settings: Settings, *, debug: bool = True, stdin: asyncio.StreamReader | None = None
) -> int:
    console = ConsoleChannel(_print_reply)
    channels = enabled_channels(settings)
    agents: ConsoleAgents | None = None
    if "slack" not in channels:
        settings = console_desk_settings(settings)
        agents = ConsoleAgents(
            print,
            channel=settings.handoff.slack_channel,
            note_prefix=settings.handoff.note_prefix,
        )
        channels["slack"] = agents
    channels[console.name] = console
    async with bot_dialog(settings) as dialog:
        tap = DebugTap(dialog)
        gateway = build_gateway(settings, dialog=tap, channels=channels)
        await gateway.start()
        reader = stdin or await _stdin_reader()
        print("Talking to the bot. /press PAYLOAD presses a button; Ctrl-D quits.")
        if agents is not None:
            print(HELP)
        try:
            while True:
                print(PROMPT, end="", flush=True)
                line = await reader.readline()
                if not line:
                    print()
                    return 0
                text = line.decode().strip()
                if not text:
                    continue
                event: InboundEvent | str
                if agents is not None and agents.is_command(text):
                    event = agents.command(text)
                else:
                    event = console.message(text)
                if isinstance(event, str):
                    print(f"agents> {event}")
                    continue
                await gateway.ingest.accept(event)
                await settle(gateway.store, console.session_key)
                while not tap.debug.empty():
                    shown = format_debug(tap.debug.get_nowait())
                    if debug and shown:
                        print(shown)
        finally:
            await gateway.stop()


def console_desk_settings(settings: Settings) -> Settings:
    """The settings for a chat whose agents' channel is the terminal: a handoff channel id if
    none is set (so the desk runs), and no Slack rate limit (nothing is sent to Slack)."""
    handoff = settings.handoff
    if not handoff.slack_channel:
        handoff = handoff.model_copy(update={"slack_channel": CONSOLE_AGENTS_CHANNEL})
    limits = {k: v for k, v in settings.outbox.rate_limits.items() if k != "slack"}
    outbox = settings.outbox.model_copy(update={"rate_limits": limits})
    return settings.model_copy(update={"handoff": handoff, "outbox": outbox})


async def settle(store: Store, key: str, timeout: float = SETTLE_TIMEOUT) -> None:
    """Wait until the conversation's turn is done and everything it sent went out (its inbox
    and outbox are empty), so the next prompt comes after this line's effects."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            heads = [await store.head(lane, key) for lane in LANES]
        except StoreUnavailable:
            heads = [b"?"]
        if all(h is None for h in heads):
            return
        await asyncio.sleep(0.02)


def _print_reply(message: OutboundMessage) -> None:
    print(f"bot> {message.text}")
    for n, button in enumerate(message.buttons, 1):
        print(f"     [{n}] {button.title}  (/press {button.payload})")
    for attachment in message.attachments:
        print(f"     [{attachment.kind}] {attachment.url}")


async def _stdin_reader() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def format_debug(debug: Mapping[str, Any]) -> str:
    """One line for ``frontdesk chat``: why the bot answered as it did."""
    parts = []
    if debug.get("intent") is not None:
        parts.append(f"intent {debug['intent']} {debug.get('confidence') or 0:.2f}")
    elif debug.get("confidence") is not None:  # parsed, not understood: the best guess, if any
        ranking = debug.get("ranking") or []
        guess = f"; best guess {ranking[0][0]} {ranking[0][1]:.2f}" if ranking else ""
        parts.append(f"intent (not understood{guess})")
    if entities := debug.get("entities"):
        parts.append("entities " + ", ".join(f"{e['entity']}={e['value']}" for e in entities))
    if "sentiment" in debug:
        parts.append(f"sentiment {debug['sentiment']:+.2f}")
    if debug.get("flow"):
        parts.append(f"flow {debug['flow']} / {debug.get('step')}")
    if debug.get("handoff"):
        parts.append(f"handoff ({debug['handoff']})")
    return "     · " + " · ".join(parts) if parts else ""


class DebugTap:
    """Wraps a dialog and keeps each turn's ``Outcome.debug`` for ``frontdesk chat`` to
    print beside the replies (``await tap.debug.get()`` after a turn)."""

    def __init__(self, dialog: Any) -> None:
        self.dialog = dialog
        self.debug: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def respond(
        self,
        state: Mapping[str, Any],
        event: CustomerMessage | SystemEvent,
        context: TurnContext,
    ) -> Outcome:
        outcome: Outcome = await self.dialog.respond(state, event, context)
        self.debug.put_nowait(outcome.debug)
        return outcome
