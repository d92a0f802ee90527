"""A connection's statements run by a thread of their own, so that Python builds the next
ones while Postgres runs these.

Catch-up applied a batch as Python (a read model builds its rows) and Postgres (the
statement runs) one after the other on one connection, each waiting for the other: about
2.0 s of Python and 1.8 s of Postgres per 100k events, one after the other. A
``Pipeline`` takes the statements in order and runs them on its connection in a thread
(libpq lets go of the GIL while it waits), so the worker goes on to the next read model,
and to the next batch, while they run.

- ``Pipeline(conn, depth=2)``: ``begin()`` and ``commit(then)`` frame one batch's
  transaction (at most ``depth`` batches are queued or running; ``then`` runs in the
  thread after the commit); ``cursor()`` is a ``DeferredCursor`` for the read models;
  ``flush()`` waits until everything queued has run; ``recover()`` waits, rolls back
  what was left open and returns the first error, if any; ``close()`` ends the thread.
  ``committed`` is the ``last`` of the newest batch committed. While any pipeline is
  open, the interpreter switches threads every millisecond (``_FastSwitch``); ``close``
  must run even when ``recover`` raises, or the interval stays at a millisecond.
- ``DeferredCursor``: ``execute``, ``executemany`` and ``copy_rows`` (via
  ``projections.base.copy_rows``) are queued, a COPY's rows formatted before it is
  queued (``format_copy``, in the caller's thread: the pipeline's thread only sends
  them); anything else (``fetchall``,
  ``rowcount``, ``connection``) waits for the queue to empty and is the real cursor's,
  so a read model that reads rows back still gets them, only without the overlap.
  Whatever a queued statement's parameters hold must not change afterwards: only read
  models that say so (``ReadModel.deferrable``) are handed one (``for_model``).
- ``expect_rows(cur, count, error)``: raise ``error(cursor, found)`` unless the last statement
  touched ``count`` rows, now or, on a ``DeferredCursor``, when it has run.
- ``run_copy(cur, statement, types, rows)``: a binary ``COPY`` of ``rows`` at once (what
  ``projections.base.copy_rows`` runs on a real cursor); here and in ``format_copy`` a
  ``bytea`` column's ``bytes`` are written by psycopg's C dumper.

Any error stops the thread's work: it rolls back the open transaction and skips every
statement queued after it, and the next call of the worker raises ``PipelineFailed``.
The worker then applies the batches not committed again, one by one, without the
pipeline (``projections.runner``), which is how it finds the read model that failed.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import psycopg
from psycopg import Copy, Cursor, postgres
from psycopg.abc import Buffer
from psycopg.adapt import PyFormat
from psycopg.copy import Writer

Op = Callable[[Cursor[Any]], None]


class PipelineFailed(RuntimeError):
    """A queued statement failed; its transaction was rolled back (see ``recover``)."""


class _Commit:
    """The end of a batch: ``COMMIT``, then ``then()``; its room is freed even when
    the batch was skipped, so the worker never waits for a batch that will not come."""

    def __init__(self, last: int, then: Callable[[], None] | None) -> None:
        self.last = last
        self.then = then


SWITCH_INTERVAL_S = 0.001  # the interpreter's thread switch interval while one runs


class _FastSwitch:
    """While any pipeline runs, the interpreter hands its lock between threads every
    ``SWITCH_INTERVAL_S`` instead of every 5 ms (its default): when a statement ends, the
    pipeline's thread needs the lock to send the next one while the worker's thread
    builds rows, and every millisecond it waits, Postgres has nothing to do. Catch-up
    ran 8 to 14 % faster so (three alternated pairs at load 9 to 10). Nests across
    threads; the interval is restored when the last pipeline closes, unless other code
    set one of its own meanwhile: that one is kept, not undone."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._saved = 0.0
        self._set = 0.0  # as the interpreter reads it back (it keeps microseconds)

    def enter(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self._saved, SWITCH_INTERVAL_S))
                self._set = sys.getswitchinterval()
            self._depth += 1

    def exit(self) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and sys.getswitchinterval() == self._set:
                sys.setswitchinterval(self._saved)


_fast_switch = _FastSwitch()


class Pipeline:
    def __init__(self, conn: psycopg.Connection[Any], depth: int = 2) -> None:
        assert conn.autocommit, "the pipeline frames each batch's transaction itself"
        self._cur = conn.cursor()
        # Runs nothing: its adapters format the queued COPYs' rows in the caller's thread.
        self.format_cursor = conn.cursor()
        self._ops: queue.SimpleQueue[Op | _Commit | None] = queue.SimpleQueue()
        self._room = threading.Semaphore(depth)
        self._done = threading.Condition()
        self._queued = 0  # queued or running, under ``_done``
        self.error: BaseException | None = None
        self.committed = 0
        self._open = False
        self._thread = threading.Thread(target=self._run, name="tally-pipeline", daemon=True)
        self._thread.start()
        _fast_switch.enter()  # left in ``close``

    def cursor(self) -> DeferredCursor:
        return DeferredCursor(self)

    def begin(self) -> None:
        self._room.acquire()
        self._open = True  # a batch begun and not yet committed holds its room
        self.submit(_begin)

    def commit(self, last: int, then: Callable[[], None] | None = None) -> None:
        self._open = False
        self._put(_Commit(last, then))

    def submit(self, op: Op) -> None:
        if self.error is not None:
            raise PipelineFailed(str(self.error)) from self.error
        self._put(op)

    def flush(self) -> Cursor[Any]:
        """Wait until every queued statement has run; the real cursor, to use now."""
        with self._done:
            self._done.wait_for(lambda: self._queued == 0)
        if self.error is not None:
            raise PipelineFailed(str(self.error)) from self.error
        return self._cur

    def recover(self) -> BaseException | None:
        """Wait for the thread, roll back any transaction left open (the worker failed
        while it queued a batch), and return the error the thread met, if any."""
        with self._done:
            self._done.wait_for(lambda: self._queued == 0)
        error, self.error = self.error, None
        _rollback(self._cur)
        if self._open:  # the batch the worker was queuing will not be committed
            self._open = False
            self._room.release()
        return error

    def close(self) -> None:
        self._ops.put(None)
        self._thread.join()
        self._cur.close()
        self.format_cursor.close()
        _fast_switch.exit()

    def _put(self, op: Op | _Commit) -> None:
        with self._done:
            self._queued += 1
        self._ops.put(op)

    def _run(self) -> None:
        while (op := self._ops.get()) is not None:
            try:
                if self.error is None:
                    self._one(op)
            except BaseException as exc:  # handed to the worker at its next call
                self.error = exc
                _rollback(self._cur)
            finally:
                if isinstance(op, _Commit):
                    self._room.release()
                with self._done:
                    self._queued -= 1
                    self._done.notify_all()

    def _one(self, op: Op | _Commit) -> None:
        if not isinstance(op, _Commit):
            op(self._cur)
            return
        self._cur.execute(b"COMMIT")
        self.committed = op.last
        if op.then is not None:
            op.then()


def _begin(cur: Cursor[Any]) -> None:
    cur.execute(b"BEGIN")


def _rollback(cur: Cursor[Any]) -> None:
    conn = cur.connection
    if conn.broken or conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        return
    # If the connection went, the worker's next statement says so.
    with contextlib.suppress(psycopg.Error):
        cur.execute(b"ROLLBACK")


class DeferredCursor:
    """A cursor whose statements a ``Pipeline`` runs later, in order (see the module)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> DeferredCursor:
        self.pipeline.submit(lambda cur: _execute(cur, query, params, kwargs))
        return self

    def executemany(self, query: Any, params_seq: Iterable[Any], **kwargs: Any) -> None:
        rows = list(params_seq)
        self.pipeline.submit(lambda cur: cur.executemany(query, rows, **kwargs))

    def copy_rows(
        self, statement: Any, types: Sequence[int | str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """The rows are formatted now, in the caller's thread; the pipeline's thread only
        sends the blocks (see ``format_copy``)."""
        blocks = format_copy(self.pipeline.format_cursor, types, rows)
        self.pipeline.submit(lambda cur: _send_copy(cur, statement, blocks))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipeline.flush(), name)


def _execute(cur: Cursor[Any], query: Any, params: Any, kwargs: dict[str, Any]) -> None:
    cur.execute(query, params, **kwargs)


def _send_copy(cur: Cursor[Any], statement: Any, blocks: list[Buffer]) -> None:
    with cur.copy(statement) as copy:
        for block in blocks:
            copy.write(block)  # a binary COPY's data, signature and trailer included


class _Blocks(Writer):
    """Where a COPY formatted ahead of time leaves its data: the blocks, in order (each a
    buffer the formatter hands over and does not touch again)."""

    def __init__(self) -> None:
        self.blocks: list[Buffer] = []

    def write(self, data: Buffer) -> None:
        self.blocks.append(data)


def format_copy(
    cur: Cursor[Any], types: Sequence[int | str], rows: Iterable[Sequence[Any]]
) -> list[Buffer]:
    """A binary COPY's data (signature, rows, trailer) for columns of ``types``, made now
    with ``cur``'s adapters (a cursor that runs nothing: ``Pipeline.format_cursor``).

    Formatting the rows is Python work, about a sixth of catch-up's (the uuid dumper is
    Python). In the pipeline's thread it lengthened the chain Postgres waits on (each
    statement is sent only when the one before has run), and it ran there in turns with
    the worker's Python under one interpreter lock; in the worker's thread it runs while
    Postgres runs the batch before."""
    blocks = _Blocks()
    _bytes_in_c(cur, types)
    with Copy(cur, binary=True, writer=blocks) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)
    return blocks.blocks


# psycopg's own dumper of ``bytes`` (its C one, where psycopg has its C module).
_BYTES_DUMPER = postgres.adapters.get_dumper(bytes, PyFormat.BINARY)
_BYTEA_OID = postgres.types.get_oid("bytea")


def _bytes_in_c(cur: Cursor[Any], types: Sequence[int | str]) -> None:
    """The dumper psycopg picks for a COPY column typed ``bytea`` is ``dbapi20``'s, a
    Python call per value (it unwraps ``Binary``); the read models hand plain ``bytes``
    (the journal's entry ids), which psycopg's own bytes dumper writes in C as they are.
    Only this cursor's adapters change."""
    if _BYTEA_OID in types:
        cur.adapters.register_dumper(bytes, _BYTES_DUMPER)


def run_copy(
    cur: Cursor[Any], statement: Any, types: Sequence[int | str], rows: Iterable[Sequence[Any]]
) -> None:
    """A binary ``COPY ... FROM STDIN`` of ``rows``, its columns' ``types`` given (oids),
    at once on ``cur``."""
    _bytes_in_c(cur, types)
    with cur.copy(statement) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def for_model(cur: Any, deferrable: bool) -> Any:
    """The cursor a read model gets: a ``DeferredCursor`` only if it is ``deferrable``;
    otherwise the real one, once everything queued before it has run."""
    if type(cur) is DeferredCursor and not deferrable:
        return cur.pipeline.flush()
    return cur


def expect_rows(cur: Any, count: int, error: Callable[[Cursor[Any], int], Exception]) -> None:
    """Raise ``error(cursor, rowcount)`` unless the last statement touched ``count`` rows
    (``cursor`` is the real one, for a query that says why)."""

    def check(real: Cursor[Any]) -> None:
        if real.rowcount != count:
            raise error(real, real.rowcount)

    if type(cur) is DeferredCursor:
        cur.pipeline.submit(check)
    else:
        check(cur)
