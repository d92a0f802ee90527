"""A served worker settles its heap once started (``api.app.settle_heap``): what it made
at start-up leaves the collector's generations, and young collections come less often,
while cycles made afterwards are still collected."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from api.app import settle_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_the_start_up_heap_is_frozen_and_later_cycles_still_collected() -> None:
    made_at_start = [object() for _ in range(1_000)]
    settle_heap()
    assert gc.get_freeze_count() >= len(made_at_start)
    assert gc.get_threshold() == (10_000, 10, 10)

    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle made after start-up
    alive = len(gc.get_objects())
    del a, b
    assert gc.collect() >= 2
    assert len(gc.get_objects()) < alive
