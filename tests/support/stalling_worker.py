"""A gateway worker process whose dialog stalls mid-turn, for the crash test.

``python -m tests.support.stalling_worker CONFIG MARKER``: runs the real turn and send lanes;
the dialog writes MARKER when a turn has started and then hangs, so the test can kill the
process while it holds a claimed, unacknowledged event.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from common.messages import CustomerMessage
from dialogs.base import Outcome, SystemEvent, TurnContext
from frontdesk.app import build_gateway
from frontdesk.config import load_settings


class StallingDialog:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    async def respond(
        self, state: Mapping[str, Any], event: CustomerMessage | SystemEvent, context: TurnContext
    ) -> Outcome:
        self.marker.write_text(event.event_id)
        await asyncio.sleep(3600)  # the test kills us here
        return Outcome(state=dict(state), replies=[])


async def main(config: str, marker: str) -> None:
    settings = load_settings(config)
    gateway = build_gateway(settings, dialog=StallingDialog(Path(marker)), channels={})
    await gateway.start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
