"""``frontdesk chat``: a terminal on both ends of the real pipeline.

Each typed line is a console-channel event: it is ingested, handled by the turn worker and the
configured bot (NLU + dialog YAML), and the reply comes back through the outbox to the console
adapter, which prints it. With ``--debug`` (the default) each reply is followed by why the bot
said it: intent, confidence, entities, sentiment, flow and step.
"""

from __future__ import annotations

import asyncio
import sys

from channels.console import ConsoleChannel
from channels.registry import enabled_channels
from dialogs.cli import DebugTap, format_debug
from gateway.assembly import bot_dialog
from gateway.config import Settings
from gateway.messages import OutboundMessage
from gateway.runtime import Gateway

PROMPT = "you> "


async def chat(
    settings: Settings, *, debug: bool = True, stdin: asyncio.StreamReader | None = None
) -> int:
    replies: asyncio.Queue[OutboundMessage] = asyncio.Queue()
    console = ConsoleChannel(replies.put_nowait)
    channels = {**enabled_channels(settings), console.name: console}
    async with bot_dialog(settings) as dialog:
        tap = DebugTap(dialog)
        gateway = Gateway(settings, dialog=tap, channels=channels)
        await gateway.start()
        reader = stdin or await _stdin_reader()
        print("Talking to the bot. /press PAYLOAD presses a button; Ctrl-D quits.")
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
                await gateway.ingest.accept(console.message(text))
                await _print_replies(replies)
                while not tap.debug.empty():
                    shown = format_debug(tap.debug.get_nowait())
                    if debug and shown:
                        print(shown)
        finally:
            await gateway.stop()


async def _print_replies(replies: asyncio.Queue[OutboundMessage]) -> None:
    """Print this turn's replies: wait for the first, then take what follows it closely."""
    timeout = 10.0
    while True:
        try:
            message = await asyncio.wait_for(replies.get(), timeout=timeout)
        except TimeoutError:
            return
        print(f"bot> {message.text}")
        for n, button in enumerate(message.buttons, 1):
            print(f"     [{n}] {button.title}  (/press {button.payload})")
        timeout = 0.3


async def _stdin_reader() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader
