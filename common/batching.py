"""Group commit: the calls that arrive while one round trip is on its way go in the next.

A lone call goes out at once, as it would without batching. Under load, while a batch is on the
wire the next one gathers, so N concurrent callers cost one round trip (one write and one read
system call, one connection taken from the pool) instead of N. Each caller still gets its own
result, or the error of its batch: a batch that fails fails every call in it, and none is
reported as done when it may not be (the caller answers the platform 503, which sends again,
and the deduplication makes the second delivery harmless).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

A = TypeVar("A")
R = TypeVar("R")

# One round trip carries at most this many calls; more wait for the next.
MAX_BATCH = 128


class GroupCommit(Generic[A, R]):
    """Runs ``send`` on batches of the submitted items; ``send`` returns one result per item,
    in order (an ``Exception`` instance as a result is raised to that item's caller alone), or
    raises for the whole batch."""

    def __init__(
        self,
        send: Callable[[Sequence[A]], Awaitable[Sequence[R | Exception]]],
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._send = send
        self._max = max_batch
        self._waiting: list[tuple[A, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.batches = 0  # round trips made (for tests and benchmarks)

    async def submit(self, item: A) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def idle(self) -> None:
        """Return once nothing is waiting or on its way (e.g. before the connection closes)."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.wait({self._flusher})

    async def _flush(self) -> None:
        """Send batches until nothing waits. A caller that gave up (cancelled) still has its
        item sent: the caller cannot know whether it went, and retrying it is harmless."""
        while self._waiting:
            batch, self._waiting = self._waiting[: self._max], self._waiting[self._max :]
            self.batches += 1
            try:
                results = await self._send([item for item, _ in batch])
            except Exception as exc:  # the batch failed: so did each call in it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            except BaseException as exc:  # cancelled (the loop is closing): so is each call
                for _, future in batch + self._waiting:
                    if not future.done():
                        future.cancel()
                self._waiting = []
                raise exc
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):  # this call's own error, not the batch's
                    future.set_exception(result)
                else:
                    future.set_result(result)
