"""Replay creates its scratch tables while the first batch is read: the batches come
through unchanged, only after the preparation finished, and its failure is raised."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from projections.reading import Batch
from projections.replay_applying import meanwhile


def _batches(log: list[str], closed: list[bool]) -> Iterator[Batch]:
    try:
        for last in (2, 4, 6):
            log.append(f"read {last}")
            yield Batch([], last, 2)
    finally:
        closed.append(True)


def test_every_batch_comes_through_after_the_preparation() -> None:
    log: list[str] = []
    closed: list[bool] = []
    got = []
    for batch in meanwhile(lambda: log.append("prepared"), _batches(log, closed)):
        assert "prepared" in log  # no batch is applied before the tables exist
        got.append(batch.last)
    assert got == [2, 4, 6]
    assert closed == [True]


def test_a_failed_preparation_is_raised_and_stops_the_reading() -> None:
    def prepare() -> None:
        raise RuntimeError("cannot create the scratch tables")

    closed: list[bool] = []
    with pytest.raises(RuntimeError, match="scratch tables"):
        next(meanwhile(prepare, _batches([], closed)))
    assert closed == [True]
