"""The echo dialog: repeats what the customer wrote and counts the turns.

It stands in until the dialog engine lands, so the whole pipeline (ingest, worker, outbox,
channels) can be exercised end to end by ``frontdesk chat`` and by the tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dialogs.base import Reply
from gateway.messages import CustomerMessage


class EchoDialog:
    def step(
        self, state: Mapping[str, Any], event: CustomerMessage
    ) -> tuple[dict[str, Any], list[Reply]]:
        turn = int(state.get("turn", 0)) + 1
        said = event.button_payload or event.text
        if not said and event.attachments:
            said = f"{len(event.attachments)} attachment(s)"
        if not said and event.location:
            said = f"a location ({event.location.latitude}, {event.location.longitude})"
        return {**state, "turn": turn}, [Reply(text=f"echo: {said}")]
