"""Resuming a multi-part send: which parts of an outbound message already went out.

Some messages take several platform calls (a long text split in parts, attachments, then the
buttons), and the outbox retries the whole message when one of them fails. :func:`send_parts`
records, by message key, the platform ids of the parts already accepted, so that the retry
starts at the part that failed instead of sending the first ones again. The record lives in a
bounded LRU memory (:class:`Recent`) in this process: best effort, lost on a restart.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from channels.base import SendError

T = TypeVar("T")
P = TypeVar("P")

DEFAULT_CAPACITY = 1024


class Recent(Generic[T]):
    """Values by key, at most ``capacity`` of them: storing one more forgets the key least
    recently stored or read."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self.capacity = capacity
        self._items: OrderedDict[str, T] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: str) -> T | None:
        if key not in self._items:
            return None
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key: str, value: T) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def forget(self, key: str) -> None:
        self._items.pop(key, None)


Progress = Recent[tuple[str, ...]]
"""Message key -> platform ids of the parts of that message already sent."""


async def send_parts(
    key: str,
    parts: Sequence[P],
    send: Callable[[P], Awaitable[str]],
    progress: Progress,
    *,
    forget_on_permanent: bool = False,
) -> list[str]:
    """Send ``parts`` in order through ``send`` (which answers the part's platform id) and
    answer the ids of all of them, including those sent by earlier attempts of ``key``.

    The parts recorded under ``key`` are skipped, and each accepted part is recorded at once:
    when a part raises (or the send is cancelled between two parts) the progress stays for the
    next attempt and the exception propagates. Once every part went out, ``key`` is forgotten.
    With ``forget_on_permanent``, a non-retryable :class:`SendError` forgets ``key`` too, so
    that a later send of the message (a re-sent dead letter) starts from the first part.
    """
    sent = list(progress.get(key) or ())
    try:
        for part in parts[len(sent) :]:
            sent.append(await send(part))
            progress.put(key, tuple(sent))
    except SendError as exc:
        if forget_on_permanent and not exc.retryable:
            progress.forget(key)
        raise
    progress.forget(key)
    return sent
