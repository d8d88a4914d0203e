"""Serve a test's fake platform server on a free loopback port, and wait for its requests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

T = TypeVar("T")


async def serve(app: web.Application, port: int = 0) -> tuple[web.AppRunner, str]:
    """Start ``app`` on 127.0.0.1; returns the runner (to ``cleanup()``) and its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def wait_for_count(
    arrived: asyncio.Event,
    items: Callable[[], list[T]],
    count: int,
    timeout: float,
    what: str,
) -> list[T]:
    """Wait until ``items()`` holds ``count`` entries (``arrived`` is set on each request to
    the fake server); return them, or fail the test saying what was expected."""
    deadline = time.monotonic() + timeout
    while len(items()) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"expected {count} {what}, got {len(items())}: {items()}")
        arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(arrived.wait(), timeout=min(remaining, 0.5))
    return items()
