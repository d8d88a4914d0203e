"""The echo dialog: repeats what the customer wrote and counts the turns.

A minimal dialog for trying the pipeline (``frontdesk chat`` without dialog YAML) and for the
gateway's own tests, which check queues, order and delivery rather than conversation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common.messages import CustomerMessage
from dialogs.base import Outcome, Reply, SystemEvent, TurnContext


class EchoDialog:
    async def respond(
        self,
        state: Mapping[str, Any],
        event: CustomerMessage | SystemEvent,
        context: TurnContext,
    ) -> Outcome:
        turn = int(state.get("turn", 0)) + 1
        if isinstance(event, SystemEvent):
            said = f"({event.name})"
        else:
            said = event.button_payload or event.text
            if not said and event.attachments:
                said = f"{len(event.attachments)} attachment(s)"
            if not said and event.location:
                said = f"a location ({event.location.latitude}, {event.location.longitude})"
        return Outcome(
            state={**state, "turn": turn},
            replies=[Reply(text=f"echo: {said}")],
            slots=dict(context.slots),
        )
