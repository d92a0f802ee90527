"""The projection worker: follows the event log and keeps every read model up to date.

Contract for the server and the CLI:

- ``ProjectionWorker(store, pool, schema, batch_size=2000, *, poll_interval_s=0.5,
  standby_interval_s=1.0, stall_retry_s=5.0, log_stalls=True, models=PROJECTIONS,
  notify_progress=False, linger_s=0.0)``
  (``stall_retry_s``: first retry of a stalled read model; ``log_stalls`` False for a
  caller that reports stalls itself; ``models``: the read model classes, for tests;
  ``notify_progress``: announce each batch's position at its commit, for readers in
  other processes, see ``projections.progress``; ``linger_s``: how long an idle worker
  woken by the log's NOTIFY waits before reading, so that under load a batch holds the
  events of several commits)

  - ``start()`` / ``stop()``: run in a background thread. The thread holds a Postgres
    session advisory lock for ``schema`` while it works, so in the whole system exactly
    one worker applies a schema's projections; any other worker (another server
    process, ``tally projections run``) stands by, retrying every
    ``standby_interval_s``, and takes over when the lock frees. The active one wakes on
    the event table's NOTIFY channel, and polls every ``poll_interval_s`` in case a
    notification is missed. ``active`` is True while this worker holds the lock.
    ``stop()`` returns within a fraction of a second when idle.
  - ``catch_up(timeout_s=60.0) -> int``: bring the read models up to the head of the
    log as it was when called, in the calling thread, and return how many log entries
    this call applied (idempotency records included). If another worker holds the
    lock, it waits (at most ``timeout_s``) for that worker to reach the head and
    returns 0.
  - ``position() -> int``: the notification id every read model that is not stalled
    has reached.

- ``current_position(pool, schema) -> int``: the same, for code without a worker
  (this and the next three live in ``projections.registry``).
- ``wait_for_position(pool, schema, position, timeout_s) -> bool``: block until the
  read models have applied ``position`` (a write's ``Outcome.position``); False on
  timeout. Wakes as soon as a worker in the same process commits; otherwise polls the
  tracking table (2 ms, doubling to 50 ms).
- ``stalls(pool, schema) -> list[Stall]`` and ``status(pool, schema) ->
  list[ReadModelStatus]``: stalled read models, and every read model's position with
  its stall (``projections.stalls``).

A stalled read model (one that cannot apply an event, see ``projections.stalls``) is
left out of ``current_position`` and so of ``wait_for_position``: the position is the
lowest among the read models that are not stalled (or, if all are, the lowest of all).
So a write's read-your-writes wait, and the balances and API keys it waits for, never
hang on an unrelated stalled read model; a query of the stalled one's tables answers
what it held before the failing event, and ``/readyz`` answers 503 naming it.

How a batch is applied (exactly once): read up to ``batch_size`` log entries after the
lowest tracked position of the read models that can advance (``projections.reading``:
a reader thread fetches and decodes the next batch while this one is applied); turn
them into domain events with ``projections.decoding.FastDecoder`` (the same objects
``store.mapper`` builds, faster), skipping idempotency records, which no read model
uses; then in ONE transaction advance every tracking row from the position it was read
at (a compare-and-set: a concurrent double apply fails with ``TrackingConflict`` instead
of counting twice) and let each read model apply its share of the batch with set-based
SQL, each in its own savepoint (``projections.applying.project_batch``, which replay
uses too). A batch is first applied without those savepoints (two round trips fewer
per read model); only if that fails is it applied again with them, to find which read
model failed. From the second batch of a read on, while nothing is stalled, batches go
through ``projections.overlap``: each one's transaction is queued to a thread that runs
it while this one builds the next (``projections.pipeline``); a failure there rolls
that batch back and the batches not committed are applied again as above. If a read
model fails, the transaction is rolled back and the batch applied again with that read
model and its readers stopped just before the failing event; the stall is written in
that same transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import OperationalError
from psycopg import sql
from psycopg_pool import ConnectionPool

from projections.applying import ProjectionFailed, TrackingConflict, project_batch, route
from projections.base import ReadModel
from projections.decoding import FastDecoder
from projections.overlap import Overlap
from projections.progress import notify
from projections.reading import Batch, GcHold, paused_gc, read_batches
from projections.registry import (
    PROJECTIONS,
    ReadModelStatus,
    conninfo,
    current_position,
    make_models,
    publish,
    read_positions,
    status,
    wait_for_position,
)
from projections.stalls import STALL_RETRY_S, Stall, StallBook, stalls

log = logging.getLogger("tally.projections")

STOP_CHECK_S = 0.2  # how often an idle worker checks whether it was asked to stop
MAX_BACKOFF_S = 60.0  # longest wait before a failed worker tries again


__all__ = [
    "PROJECTIONS",
    "ProjectionFailed",
    "ProjectionWorker",
    "ReadModelStatus",
    "Stall",
    "TrackingConflict",
    "conninfo",
    "current_position",
    "make_models",
    "project_batch",
    "read_positions",
    "route",
    "stalls",
    "status",
    "wait_for_position",
]


def _connection_lost(conn: psycopg.Connection[Any], exc: Exception) -> bool:
    """Not the events' fault: the whole batch is tried again later, as it is."""
    return isinstance(exc, psycopg.OperationalError) or conn.broken


def lock_key(schema: str) -> str:
    return f"tally-projections:{schema}"


class ProjectionWorker:
    def __init__(
        self,
        store: Application[Any],
        pool: ConnectionPool[Any],
        schema: str,
        batch_size: int = 2000,
        *,
        poll_interval_s: float = 0.5,
        standby_interval_s: float = 1.0,
        stall_retry_s: float = STALL_RETRY_S,
        log_stalls: bool = True,
        models: Sequence[type[ReadModel]] = PROJECTIONS,
        notify_progress: bool = False,
        linger_s: float = 0.0,
    ) -> None:
        assert batch_size > 0, batch_size
        assert linger_s >= 0, linger_s
        self.store = store
        self.pool = pool
        self.schema = schema
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.standby_interval_s = standby_interval_s
        self.models = make_models(pool, schema, models)
        # Stalled read models: retried after ``stall_retry_s`` (doubling); ``log_stalls``
        # False for callers that report stalls themselves (the CLI).
        self.book = StallBook(schema, self.models, stall_retry_s, say=log_stalls)
        self.decoder = FastDecoder(store)
        self._key = (conninfo(pool), schema)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.active = False  # True while this worker's thread holds the lock
        # Tell readers in other processes where the read models are (projections.progress).
        self.notify_progress = notify_progress
        # After the log's NOTIFY wakes an idle worker, wait this long before reading, so
        # that under load a batch holds several commits' events.
        self.linger_s = linger_s

    # -- public ------------------------------------------------------------------------

    def position(self) -> int:
        return current_position(self.pool, self.schema)

    def catch_up(self, timeout_s: float = 60.0) -> int:
        head = self.store.recorder.max_notification_id() or 0
        with self._connect() as conn:
            if not self._try_lock(conn):
                wait_for_position(self.pool, self.schema, head, timeout_s)
                return 0
            try:
                total, _ = self._drain(conn, self._positions(conn), stop=head)
                return total
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (lock_key(self.schema),))

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"tally-projections-{self.schema}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
            self._thread = None

    # -- internals ---------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(conninfo(self.pool), autocommit=True)
        # A crash may lose the last few batches; they are re-applied, because their
        # tracking rows are lost with them. That is safe, and commits no longer wait
        # for the WAL flush.
        conn.execute("SET synchronous_commit = off")
        return conn

    def _try_lock(self, conn: psycopg.Connection[Any]) -> bool:
        row = conn.execute(
            "SELECT pg_try_advisory_lock(hashtext(%s))", (lock_key(self.schema),)
        ).fetchone()
        return bool(row and row[0])

    def _positions(self, conn: psycopg.Connection[Any]) -> dict[str, int]:
        """The tracked positions, and the recorded stalls (as a worker that has just
        taken the lock, this one retries failed read models at once)."""
        with conn.cursor() as cur:
            self.book.load(cur)
            return read_positions(cur, self.schema, self.models)

    def _drain(
        self,
        conn: psycopg.Connection[Any],
        positions: dict[str, int],
        *,
        stop: int | None = None,
        interruptible: bool = False,
    ) -> tuple[int, dict[str, int]]:
        """Apply batches until the log (or ``stop``) is reached, or, if ``interruptible``,
        the worker is stopped.

        Reading starts after the lowest position of the read models that can advance; a
        stalled one is left behind until its retry is due. When a stall appears or
        clears, or a retry falls due, reading starts again from the new lowest position.
        Returns how many notifications were applied and the new positions.
        """
        total = 0
        with GcHold() as gc_hold:
            while True:
                caps = self.book.caps()
                limit = stop if stop is not None else 2**63 - 1
                free = [p for n, p in positions.items() if p < min(caps.get(n, limit), limit)]
                if not free:
                    return total, positions
                batches = read_batches(self.store, self.decoder, min(free), self.batch_size, stop)
                overlap = Overlap(
                    conn, self._apply, self.schema, self.models, self.book,
                    notify_progress=self.notify_progress, key=self._key,
                )  # fmt: skip
                try:
                    ended = True
                    for batch in batches:
                        positions, replan = overlap.apply(positions, batch)
                        total += batch.count
                        gc_hold.batch_done()
                        if (interruptible and self._stopping.is_set()) or replan or self.book.due():
                            ended = False
                            break
                    batches.close()  # stops the reader thread now
                    positions, replan = overlap.finish(positions)
                finally:
                    overlap.close()
                if (ended and not replan) or (interruptible and self._stopping.is_set()):
                    return total, positions

    def _apply(
        self, conn: psycopg.Connection[Any], positions: dict[str, int], batch: Batch
    ) -> tuple[dict[str, int], bool]:
        """Apply one batch in one transaction; if a read model fails on an event, apply it
        again with that read model held back before the event. Returns the new positions
        and whether the stalls changed or a read model failed (so reading starts again)."""
        before = self._visible(positions)
        failed_any = False
        # First without a savepoint per read model (fewer round trips); if that fails,
        # again with them, which finds the read model and the event that failed.
        contained = False
        for _ in range(4 * len(self.models) + 2):  # each failure lowers a cap for good
            try:
                with paused_gc(), conn.transaction(), conn.cursor() as cur:
                    new = project_batch(
                        cur, self.schema, self.models, positions, batch.events, batch.last,
                        self.book.caps(), contained=contained,
                    )  # fmt: skip
                    changed = self.book.settle(cur, new)
                    position = self._visible(new)
                    lower = changed and position < before
                    if self.notify_progress:
                        notify(cur, self.schema, position, lower)
            except ProjectionFailed as failed:
                self.book.fail(failed)
                failed_any = True
                continue
            except Exception as exc:
                if contained or isinstance(exc, TrackingConflict) or _connection_lost(conn, exc):
                    raise
                contained = True  # rolled back: find out which read model failed
                continue
            publish(self._key, position, lower=lower)
            # After a failure (a retry that failed again changes no row), read on from
            # the others' position, not through the log from the stalled one's.
            return new, changed or failed_any
        raise RuntimeError(f"projection batch up to {batch.last} in {self.schema} kept failing")

    def _visible(self, positions: dict[str, int]) -> int:
        """``current_position`` as this worker knows it: the lowest position of the read
        models that are not stalled (if all are, of all)."""
        stalled = self.book.stalled()
        if not stalled:  # the usual case, every batch: no list to build
            return min(positions.values())
        free = [p for name, p in positions.items() if name not in stalled]
        return min(free or positions.values())

    def _run(self) -> None:
        backoff_s = 1.0
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                with self._connect() as conn:
                    self._serve(conn)
            except Exception as exc:
                # A lost connection or a failed batch: nothing half-applied was kept, so
                # wait and start again from the tracked position. A failure that repeats
                # at once backs off to a minute. (A read model failing on an event is not
                # such a failure: it stalls alone, see ``projections.stalls``.)
                if isinstance(exc, (psycopg.OperationalError, OperationalError)):
                    # Postgres restarted or ended the connection: expected in operation,
                    # so one line (of the error's class only, as elsewhere), no traceback.
                    log.warning(
                        "projection worker for %s lost its connection (%s); restarting",
                        self.schema,
                        type(exc).__name__,
                    )
                else:
                    log.exception("projection worker for %s failed; restarting", self.schema)
                if time.monotonic() - started > MAX_BACKOFF_S:
                    backoff_s = 1.0
                self._stopping.wait(backoff_s)
                backoff_s = min(backoff_s * 2, MAX_BACKOFF_S)
            finally:
                self.active = False

    def _serve(self, conn: psycopg.Connection[Any]) -> None:
        while not self._stopping.is_set():
            if not self._try_lock(conn):
                self._stopping.wait(self.standby_interval_s)
                continue
            self.active = True
            channel = getattr(self.store.recorder, "channel_name", None)
            if channel:
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            positions = self._positions(conn)
            publish(self._key, self._visible(positions))
            while not self._stopping.is_set():
                count, positions = self._drain(conn, positions, interruptible=True)
                if count == 0:
                    self._idle(conn)
            return

    def _idle(self, conn: psycopg.Connection[Any]) -> None:
        """Wait for a NOTIFY on the event table's channel, at most ``poll_interval_s``;
        in short slices, so that ``stop()`` is prompt whatever the poll interval."""
        deadline = time.monotonic() + self.poll_interval_s
        while not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            for _ in conn.notifies(timeout=min(STOP_CHECK_S, remaining), stop_after=1):
                if self.linger_s:
                    self._stopping.wait(self.linger_s)
                return
