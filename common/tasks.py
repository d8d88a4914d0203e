"""Ending a background task for sure: cancel it, and cancel it again if it went on.

On Python 3.11, ``asyncio.wait_for`` drops a cancellation that arrives just as the call it
waits for completes (CPython gh-86296, fixed in 3.12), and redis-py wraps each command it
sends in ``wait_for`` (its ``socket_timeout``). A task cancelled while it sends a Redis command
can therefore carry on as if nothing happened: a loop goes round again and waits for its next
turn, and whoever awaits the task waits forever. That hung ``Gateway.stop()`` when a lane's
acknowledgement batch was on the wire at the moment of the stop.
"""

from __future__ import annotations

import asyncio
from typing import Any

# How long a cancelled task may take to end before it is cancelled again. Only a task that
# swallowed its cancellation ever waits this long; any other ends at once.
RECANCEL_AFTER = 0.1


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and return once it has ended. An exception it ended with, other than
    the cancellation, is raised here (as ``await task`` would)."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=RECANCEL_AFTER)
    if not task.cancelled():
        exc = task.exception()
        if exc is not None:
            raise exc
