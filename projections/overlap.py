"""Consecutive batches of one read applied through a ``projections.pipeline.Pipeline``:
the worker builds batch N+1's rows while Postgres runs batch N's statements and commit.

``Overlap(conn, apply_one, schema, models, book, notify_progress=..., key=...)`` (the
worker's ``_apply``, read models, stall book, and how it announces progress) is used
by ``ProjectionWorker._drain`` for the batches of one read of the log:

- ``apply(positions, batch) -> (positions, replan)``: as ``ProjectionWorker._apply``.
  The first batch of a read is applied as before, at once (the live worker's drains
  mostly hold one batch, and a thread would cost it more than it saves). Each later one
  is queued as one transaction (its tracking rows first, as always) and the positions it
  will reach are returned before it commits; at most two batches are queued or running.
- ``finish(positions) -> (positions, replan)``: wait until every queued batch has
  committed. Call it before using the positions for anything but the next batch.
- ``close()``: end the pipeline's thread (rolling back a batch left half queued).

Exactly once still holds: each batch is one transaction that moves its tracking rows by
compare-and-set, and a batch's positions are handed on only as the next batch's
expected ones. Queued batches run only while nothing is stalled or failed (``StallBook``
empty), so a batch changes no stall row and no Python state beyond the positions. If a
statement fails (or the worker does, while queuing), the pipeline rolls that batch back
and skips the rest; the batches not committed are then applied again one by one with
``ProjectionWorker._apply``, as if never queued, which finds and stalls the read model
that failed, or raises what is not the events' fault. The rest of the read goes that
way too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, cast

import psycopg
from psycopg import Cursor

from projections.applying import project_batch
from projections.base import ReadModel
from projections.pipeline import Pipeline, PipelineFailed
from projections.progress import notify
from projections.reading import Batch
from projections.registry import publish
from projections.stalls import StallBook

Positions = dict[str, int]
# ``ProjectionWorker._apply``: one batch at once, its failures handled.
ApplyOne = Callable[[psycopg.Connection[Any], Positions, Batch], tuple[Positions, bool]]


class Overlap:
    def __init__(
        self,
        conn: psycopg.Connection[Any],
        apply_one: ApplyOne,
        schema: str,
        models: Sequence[ReadModel],
        book: StallBook,
        *,
        notify_progress: bool,
        key: tuple[str, str],
    ) -> None:
        self.conn = conn
        self.apply_one = apply_one
        self.schema = schema
        self.models = models
        self.book = book
        self.notify_progress = notify_progress
        self.key = key
        self.pipe: Pipeline | None = None
        self.started = False  # the first batch of a read is applied at once
        self.off = False  # after a failure: the rest of the read, batch by batch
        # Queued batches not known to be committed, each with the positions before it.
        self.pending: list[tuple[Batch, Positions]] = []

    def apply(self, positions: Positions, batch: Batch) -> tuple[Positions, bool]:
        book = self.book
        if self.off or book.failed or book.rows or not self.started:
            self.started = True
            positions, replan = self.finish(positions)
            if replan:  # reading starts again from the positions: this batch is read again
                return positions, True
            return self.apply_one(self.conn, positions, batch)
        self.pending.append((batch, positions))
        try:
            new = self._queue(positions, batch)
        except Exception:
            return self._again()
        committed = self.pipe.committed if self.pipe is not None else 0
        self.pending = [p for p in self.pending if p[0].last > committed]
        return new, False

    def finish(self, positions: Positions) -> tuple[Positions, bool]:
        if self.pipe is None or not self.pending:
            return positions, False
        try:
            self.pipe.flush()
        except PipelineFailed:
            return self._again()
        self.pending.clear()
        return positions, False

    def close(self) -> None:
        if self.pipe is None:
            return
        pipe, self.pipe = self.pipe, None
        # The thread ends and the switch interval comes back even if the rollback raises.
        try:
            pipe.recover()
        finally:
            pipe.close()

    def _queue(self, positions: Positions, batch: Batch) -> Positions:
        """Queue one batch's transaction; the positions it reaches when it commits."""
        if self.pipe is None:
            self.pipe = Pipeline(self.conn)
        self.pipe.begin()
        cur = cast(Cursor[Any], self.pipe.cursor())
        new = project_batch(
            cur, self.schema, self.models, positions, batch.events, batch.last, None,
            contained=False,
        )  # fmt: skip
        position = min(new.values())  # nothing is stalled: ``ProjectionWorker._visible``
        if self.notify_progress:
            notify(cur, self.schema, position, False)
        self.pipe.commit(batch.last, partial(publish, self.key, position))
        return new

    def _again(self) -> tuple[Positions, bool]:
        """After a failure: apply the batches not committed one by one, from the
        positions before the first of them; stop at the first that changes the stalls."""
        assert self.pipe is not None
        self.pipe.recover()
        self.off = True
        committed = self.pipe.committed
        again = [p for p in self.pending if p[0].last > committed]
        self.pending = []
        positions = again[0][1]
        for batch, _ in again:
            positions, replan = self.apply_one(self.conn, positions, batch)
            if replan:
                return positions, True
        return positions, False
