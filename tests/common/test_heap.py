"""common/heap.settle (issue 13): what is alive when the process has started (the bot, its
models) is left out of later full collections, so their pauses stay short; garbage is still
collected, also garbage that was frozen once (a reloaded bot's old model)."""

from __future__ import annotations

import gc
import weakref

from common import heap


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_what_is_alive_is_left_out_of_later_collections() -> None:
    model = [Node() for _ in range(10_000)]  # a bot's tables, loaded at start-up
    heap.settle()
    frozen = gc.get_freeze_count()
    walked = len(gc.get_objects())
    assert frozen >= 10_000
    assert walked < frozen / 10, "a full collection would still walk the loaded model"
    assert model  # still alive, only no longer walked


def test_garbage_before_the_settle_is_collected_and_garbage_after_it_too() -> None:
    before = cycle()
    heap.settle()
    assert before() is None
    after = cycle()
    gc.collect()
    assert after() is None


def test_a_frozen_cycle_let_go_is_collected_by_the_next_settle() -> None:
    kept: list[Node] = []
    ref = cycle()
    node = ref()
    assert node is not None
    kept.append(node)
    del node
    heap.settle()  # the old bot, frozen while in use
    kept.clear()  # ... then replaced by a reload
    gc.collect()
    assert ref() is not None, "a plain collection does not walk frozen objects"
    heap.settle()  # the reload settles the heap again
    assert ref() is None
