"""cancel_and_wait ends a task that swallowed its first cancellation (as a Redis call may on
Python 3.11, see common/tasks.py) and reports what a task failed with."""

from __future__ import annotations

import asyncio

import pytest

from common.tasks import cancel_and_wait


async def test_a_task_that_swallows_a_cancellation_is_cancelled_again_until_it_ends() -> None:
    swallowed = asyncio.Event()

    async def loop_that_carries_on() -> None:
        while True:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                if swallowed.is_set():
                    raise
                swallowed.set()  # the first cancellation is dropped

    task = asyncio.create_task(loop_that_carries_on())
    await asyncio.sleep(0)  # let it start waiting
    await cancel_and_wait(task)
    assert swallowed.is_set()
    assert task.cancelled()


async def test_what_the_task_failed_with_is_raised() -> None:
    async def fails_on_cancel() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise ValueError("cleanup failed") from None

    task = asyncio.create_task(fails_on_cancel())
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="cleanup failed"):
        await cancel_and_wait(task)


async def test_a_finished_task_is_left_as_it_is() -> None:
    async def done() -> int:
        return 1

    task = asyncio.create_task(done())
    await task
    await cancel_and_wait(task)
    assert task.result() == 1
