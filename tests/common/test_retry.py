"""The one retry helper: backoff, the wait a failure asks for, giving up."""

from __future__ import annotations

import time

import pytest

from common.retry import retrying


class Flaky(Exception):
    pass


async def test_retries_until_it_works_with_growing_waits() -> None:
    calls: list[float] = []
    waits: list[float] = []
    async for attempt in retrying(
        on=Flaky, first=0.01, most=0.04, on_retry=lambda _e, w: waits.append(w)
    ):
        with attempt:
            calls.append(time.monotonic())
            if len(calls) < 5:
                raise Flaky
    assert len(calls) == 5
    assert waits == [0.01, 0.02, 0.04, 0.04]  # doubled, capped


async def test_a_failure_that_names_its_wait_gets_it() -> None:
    waits: list[float] = []
    tries = 0
    async for attempt in retrying(
        first=5.0, most=60.0, hint=lambda e: 0.02, on_retry=lambda _e, w: waits.append(w)
    ):
        with attempt:
            tries += 1
            if tries < 3:
                raise Flaky
    assert waits == [0.02, 0.02]


async def test_gives_up_after_its_time_and_raises_the_failure_itself() -> None:
    with pytest.raises(Flaky):
        async for attempt in retrying(on=Flaky, first=0.01, most=0.01, give_up_after=0.05):
            with attempt:
                raise Flaky


async def test_other_failures_are_not_retried() -> None:
    tries = 0
    with pytest.raises(KeyError):
        async for attempt in retrying(on=Flaky, first=0.01, most=0.01):
            with attempt:
                tries += 1
                raise KeyError("x")
    assert tries == 1
