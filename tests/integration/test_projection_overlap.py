"""Catch-up overlaps Python and Postgres (``projections.overlap``, ``projections.pipeline``):
the worker builds the next batch while the last one's statements run, and still applies
every batch exactly once, stalls a failing read model where it did, and ends with the
same read models as one batch at a time."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import Any, ClassVar

import psycopg
import pytest
from psycopg import Cursor

from api.bootstrap import Tally
from projections.base import ReadModel, Tracked
from projections.overlap import Overlap
from projections.pipeline import SWITCH_INTERVAL_S, DeferredCursor, Pipeline
from projections.registry import PROJECTIONS, current_position, make_models, read_positions
from projections.replay import replay
from projections.runner import ProjectionWorker, stalls
from projections.stalls import StallBook
from projections.transactions import Transactions
from tests.integration.gated import Gated, head
from tests.integration.ledger_workload import Driver, mixed_workload, new_project

GATE = 7_160_416  # an advisory lock key no other code takes


def _models(cls: type[ReadModel]) -> list[type[ReadModel]]:
    return [cls if c is Transactions else c for c in PROJECTIONS]


def _deposits(tally: Tally, count: int) -> None:
    driver = Driver(tally, new_project(tally))
    driver.open("alice")
    for amount in range(1, count + 1):
        driver.deposit("alice", amount)


def test_catch_up_builds_the_next_batch_while_the_last_ones_statements_run(
    tally: Tally,
) -> None:
    """Failed before the overlap: the third batch was built only after the second's
    statements had run, which the lock held up until the wait below gave up."""
    _deposits(tally, 12)
    Gated.reset(GATE)
    before = sys.getswitchinterval()
    worker = ProjectionWorker(tally.store, tally.views, tally.schema, 4, models=_models(Gated))
    with psycopg.connect(tally.target.url, autocommit=True) as gate:
        gate.execute("SELECT pg_advisory_lock(%s)", (GATE,))
        caught = threading.Thread(target=worker.catch_up)
        caught.start()
        try:
            built_meanwhile = Gated.third.wait(timeout=10.0)
        finally:
            gate.execute("SELECT pg_advisory_unlock(%s)", (GATE,))
            caught.join(timeout=30.0)
    assert built_meanwhile
    assert not caught.is_alive()
    # Threads switch every millisecond while batches overlap, and as before after.
    assert Gated.switch_s == SWITCH_INTERVAL_S
    assert sys.getswitchinterval() == before
    assert current_position(tally.views, tally.schema) == head(tally)
    assert replay(tally.store, tally.views, tally.schema, progress=False).ok


@pytest.mark.parametrize("batch", [1, 3, 7])
def test_overlapped_batches_make_the_read_models_one_batch_makes(tally: Tally, batch: int) -> None:
    world = mixed_workload(tally)
    mixed_workload(tally, world, part=1)
    worker = ProjectionWorker(tally.store, tally.views, tally.schema, batch)
    assert worker.catch_up() > 0
    with tally.views.connection() as conn, conn.cursor() as cur:
        positions = read_positions(cur, tally.schema, make_models(tally.views, tally.schema))
    assert set(positions.values()) == {head(tally)}
    assert replay(tally.store, tally.views, tally.schema, progress=False).ok


class FailsInPython(Transactions):
    """``transactions``, raising in the worker's own Python (not in Postgres) on a
    deposit of ``amount``, while earlier batches may still be queued."""

    name = "transactions"
    amount: ClassVar[int | None] = 9

    def apply(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        if any(getattr(e, "amount", None) == type(self).amount for e, _ in events):
            raise ValueError("refused in Python")
        super().apply(cur, events)


def test_a_read_model_failing_in_python_mid_catch_up_stalls_at_its_event(tally: Tally) -> None:
    _deposits(tally, 12)
    FailsInPython.amount = 9
    models = _models(FailsInPython)
    try:
        ProjectionWorker(tally.store, tally.views, tally.schema, 2, models=models).catch_up()
        found = {s.name: s for s in stalls(tally.views, tally.schema)}
        assert found["transactions"].error == "ValueError: refused in Python"
        assert found["transactions"].blocked_by is None
        with tally.views.connection() as conn, conn.cursor() as cur:
            positions = read_positions(cur, tally.schema, make_models(tally.views, tally.schema))
        assert positions["transactions"] == found["transactions"].position - 1
        assert positions["accounts"] == head(tally)
        FailsInPython.amount = None
        ProjectionWorker(tally.store, tally.views, tally.schema, 2, models=models).catch_up()
        assert stalls(tally.views, tally.schema) == []
    finally:
        FailsInPython.amount = 9
    assert current_position(tally.views, tally.schema) == head(tally)
    assert replay(tally.store, tally.views, tally.schema, progress=False).ok


def test_a_pipeline_recovered_mid_batch_takes_new_batches_again(tally: Tally) -> None:
    """A batch begun and never committed (the worker failed while queuing it) gives back
    its room when the pipeline recovers: it used to be held for good, and the next
    ``begin`` of a one-batch-deep pipeline waited forever (here: the wait gives up)."""
    with psycopg.connect(tally.target.url, autocommit=True) as conn:
        pipe = Pipeline(conn, depth=1)
        done = threading.Event()

        def queue() -> None:
            for _ in range(2):
                pipe.begin()
                pipe.cursor().execute("SELECT 1")
                assert pipe.recover() is None  # as after the worker's own failure
            pipe.begin()
            pipe.cursor().execute("SELECT 2")
            pipe.commit(7)
            pipe.flush()
            done.set()

        threading.Thread(target=queue, daemon=True).start()
        finished = done.wait(timeout=10.0)
        if finished:
            pipe.close()
    assert finished
    assert pipe.committed == 7


class FailsInPostgres(Transactions):
    """``transactions``, whose batch holding a deposit of ``amount`` also runs a statement
    Postgres refuses: on the pipeline's cursor it fails in the pipeline's thread."""

    name = "transactions"
    amount: ClassVar[int | None] = 9
    queued: ClassVar[int] = 0  # failing statements handed to a pipeline's cursor

    def apply(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        super().apply(cur, events)
        if any(getattr(e, "amount", None) == type(self).amount for e, _ in events):
            type(self).queued += isinstance(cur, DeferredCursor)
            cur.execute("SELECT 1/0")


def test_a_statement_failing_in_the_pipelines_thread_stalls_its_read_model_at_its_event(
    tally: Tally,
) -> None:
    """The thread rolls its batch back, the worker meets PipelineFailed and applies the
    batches not committed again one by one (``Overlap._again``), which stalls the read
    model at the 9th deposit while the others reach the head."""
    _deposits(tally, 12)
    FailsInPostgres.amount, FailsInPostgres.queued = 9, 0
    models = _models(FailsInPostgres)
    try:
        ProjectionWorker(tally.store, tally.views, tally.schema, 2, models=models).catch_up()
        assert FailsInPostgres.queued == 1  # it did fail in the thread
        found = {s.name: s for s in stalls(tally.views, tally.schema)}
        assert found["transactions"].error.startswith("DivisionByZero")
        assert found["transactions"].blocked_by is None
        with tally.views.connection() as conn, conn.cursor() as cur:
            positions = read_positions(cur, tally.schema, make_models(tally.views, tally.schema))
        assert positions["transactions"] == found["transactions"].position - 1
        others = {n: p for n, p in positions.items() if n not in found}
        assert set(others.values()) == {head(tally)}, positions
        FailsInPostgres.amount = None
        ProjectionWorker(tally.store, tally.views, tally.schema, 2, models=models).catch_up()
        assert stalls(tally.views, tally.schema) == []
    finally:
        FailsInPostgres.amount = 9
    assert current_position(tally.views, tally.schema) == head(tally)
    assert replay(tally.store, tally.views, tally.schema, progress=False).ok


class RecoverFails(Pipeline):
    """A pipeline whose ``recover`` raises after doing its work, as a lost connection or
    an interrupt would make it."""

    def recover(self) -> BaseException | None:
        super().recover()
        raise RuntimeError("recover failed")


def test_closing_an_overlap_whose_recover_raises_still_ends_its_pipeline(tally: Tally) -> None:
    """Failed before: ``close`` skipped ``Pipeline.close``, so its thread kept waiting
    and the interpreter kept switching every millisecond."""
    before = sys.getswitchinterval()
    with psycopg.connect(tally.target.url, autocommit=True) as conn:
        overlap = Overlap(
            conn, lambda _c, positions, _b: (positions, False), tally.schema, [],
            StallBook(tally.schema, [], say=False), notify_progress=False, key=("", ""),
        )  # fmt: skip
        pipe = overlap.pipe = RecoverFails(conn)
        try:
            with pytest.raises(RuntimeError, match="recover failed"):
                overlap.close()
            assert sys.getswitchinterval() == before
            assert not pipe._thread.is_alive()
        finally:
            sys.setswitchinterval(before)
