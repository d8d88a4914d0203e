"""The contract between the gateway's worker and a dialog."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.messages import Button, CustomerMessage


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = ()


class Dialog(Protocol):
    def step(
        self, state: Mapping[str, Any], event: CustomerMessage
    ) -> tuple[dict[str, Any], list[Reply]]:
        """Pure: the dialog's next state and what to say, given one customer message."""
