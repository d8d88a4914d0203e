"""What goes into the dialog engine (events) and what comes out of it (actions): plain,
frozen values, so that the engine stays pure and the runner does the I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from gateway.messages import Button


@dataclass(frozen=True, slots=True, kw_only=True)
class UserInput:
    text: str = ""
    payload: str | None = None
    channel: str = ""
    customer_name: str | None = None
    seed: int = 0  # picks template variants; the runner passes a random number


@dataclass(frozen=True, slots=True, kw_only=True)
class DialogEvent:
    name: Literal["handoff_returned"]
    channel: str = ""
    customer_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallResult:
    action: str
    ok: bool
    status: int  # HTTP status; 0 when there was no answer (timeout, connection refused)
    data: Any = None


Event = UserInput | DialogEvent | CallResult


@dataclass(frozen=True, slots=True, kw_only=True)
class SayAction:
    text: str
    buttons: tuple[Button, ...] = ()
    alternatives: tuple[str, ...] = ()  # every variant of the template, rendered


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpRequest:
    action: str
    method: str
    url: str
    body: Any
    timeout: float


@dataclass(frozen=True, slots=True, kw_only=True)
class HandOffAction:
    trigger: str
    reason: str
    queue: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Trace:
    flow: str | None
    step: str | None
    trigger: str | None = None  # what started the flow


Action = SayAction | HttpRequest | HandOffAction | Trace
