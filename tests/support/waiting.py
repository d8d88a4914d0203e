"""Waiting for events, never for time: ``until`` a condition holds, or ``drained`` (the pipeline
is idle, so whatever was going to happen has happened: assert that nothing else did)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.http import GATEWAY
from gateway.runtime import Gateway
from gateway.store import LANES, Store

T = TypeVar("T")

# How often a condition (or another process's work) is looked at again: the interval of the
# polls the tests used before; each wait ends at the first check that sees the effect.
POLL = 0.05


async def until(
    check: Callable[[], T | Awaitable[T]], timeout: float = 20.0, what: str = "condition"
) -> T:
    """Check ``check()`` (plain or async) until it returns something truthy; return that, or
    fail the test saying what was expected."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s (last: {value!r})")
        await asyncio.sleep(POLL)


Drainable = Gateway | web.Application | TestClient[Any, Any] | Store


async def drained(target: Drainable, timeout: float = 20.0) -> None:
    """Wait until the pipeline is idle: no turn or send in flight and no work ticket waiting or
    in progress in any lane. ``target``: an in-process gateway (or the app / test client that
    serves it), or the store of gateways that run in other processes (``frontdesk run``)."""
    if isinstance(target, TestClient):
        target = target.app
    if isinstance(target, web.Application):
        target = target[GATEWAY]
    if isinstance(target, Gateway):
        if not await target.wait_idle(timeout):
            raise AssertionError(f"the pipeline did not go idle within {timeout}s")
        return
    store = target

    async def idle() -> bool:
        return not any([await store.depth(lane) for lane in LANES])

    await until(idle, timeout, "an idle pipeline (no ticket in any lane)")
