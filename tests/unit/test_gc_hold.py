"""GcHold (projections.reading): the collector stays paused across a drain's batches,
comes back for a pass every ``every`` batches, and is as it was once the drain ends."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from projections.reading import GcHold, paused_gc


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_paused_across_batches_and_back_every_few() -> None:
    passes: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            passes.append(info["generation"])

    with GcHold(every=4) as hold:
        assert not gc.isenabled()
        gc.callbacks.append(count)
        try:
            for done in range(1, 10):
                # Cycles, which only the collector frees.
                for _ in range(2_000):
                    cell: list[object] = []
                    cell.append(cell)
                hold.batch_done()
                assert not gc.isenabled()
                # It came back (and ran) only after every fourth batch.
                assert len(passes) >= done // 4
                if done < 4:
                    assert passes == []
        finally:
            gc.callbacks.remove(count)
    assert gc.isenabled()


def test_leaves_a_collector_someone_turned_off_off() -> None:
    gc.disable()
    with GcHold(every=1) as hold:
        hold.batch_done()
    assert not gc.isenabled()


def test_nests_with_the_per_batch_pause() -> None:
    with GcHold(every=2) as hold:
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner pause ending does not turn it back on
        hold.batch_done()
    assert gc.isenabled()
