"""Retrying, one way (tenacity): exponential backoff capped at ``most`` seconds, or the wait
the failure itself asks for (a platform's Retry-After, Telegram's flood wait), until it
works or ``give_up_after`` seconds have passed."""

from __future__ import annotations

from collections.abc import Callable

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_delay,
    stop_never,
    wait_exponential,
)

Hint = Callable[[BaseException], float | None]  # the wait a failure asks for, if any
OnRetry = Callable[[BaseException, float], None]  # (the failure, the wait before the next try)


def retrying(
    *,
    on: type[BaseException] | tuple[type[BaseException], ...] = Exception,
    first: float,
    most: float,
    give_up_after: float | None = None,
    hint: Hint | None = None,
    on_retry: OnRetry | None = None,
) -> AsyncRetrying:
    """``async for attempt in retrying(...): with attempt: ...`` — retry failures of type
    ``on`` after ``first``, ``2 * first``, … up to ``most`` seconds apart (or the ``hint``);
    the last failure is raised as itself when ``give_up_after`` seconds have passed."""
    backoff = wait_exponential(multiplier=first, max=most)

    def wait(state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome is not None else None
        asked = hint(failure) if hint is not None and failure is not None else None
        seconds = backoff(state) if asked is None else asked
        if on_retry is not None and failure is not None:
            on_retry(failure, seconds)
        return seconds

    return AsyncRetrying(
        retry=retry_if_exception_type(on),
        wait=wait,
        stop=stop_never if give_up_after is None else stop_after_delay(give_up_after),
        reraise=True,
    )
