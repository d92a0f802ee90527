"""Reading the event log in batches, ahead of the code that applies them.

- ``fetch_notifications(store, start, limit, stop=None)``: notifications with ids from
  ``start`` (inclusive), in log order, without the state of idempotency records.
- ``decode(decoder, notifications)``: ``(domain event, notification id)`` pairs,
  skipping idempotency records (no read model reads them).
- ``fetch_rows(store, start, limit, stop=None)`` and ``decode_rows(decoder, rows)``: the
  same two steps on plain rows, which is how batches are read.
- ``read_batches(store, decoder, after, batch_size, stop=None)``: an iterator of
  ``Batch``es; a thread reads and decodes the next batch while the caller applies the
  current one, so database round trips overlap with Python work.
- ``paused_gc()``: a context manager that pauses Python's cyclic garbage collector
  while a batch is read or applied (see ``_GcPause``).
"""

from __future__ import annotations

import gc
import queue
import threading
import weakref
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from psycopg import sql
from psycopg.rows import tuple_row

from projections.base import Tracked
from projections.statements import compiled, table

SKIPPED_TOPIC_PREFIX = "tally:IdempotencyRecord."


class _GcPause:
    """Pause the cyclic garbage collector while a batch is read or applied.

    A batch allocates tens of thousands of short-lived objects without reference cycles
    (reference counting frees them); the collector's passes over them were measured at
    a quarter to a third of the worker's CPU. Pauses nest across threads (a count), and
    the collector is back on as soon as no batch is being read or applied; a pause never
    turns on a collector that someone else had turned off.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._resume = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._resume:
                    gc.enable()


paused_gc = _GcPause()


class GcHold:
    """The collector paused across consecutive batches, not only within each: coming
    back between two batches, it walks every object the last one left (it was off
    while they were made, so they all count as new), which measured at about a fifth of
    a catch-up's CPU. It comes back for a pass every ``every`` batches, so that a worker
    that keeps up with a busy log for hours still collects its cycles."""

    def __init__(self, every: int = 32) -> None:
        self.every = every
        self._batches = 0
        self._pause: AbstractContextManager[None] | None = None

    def __enter__(self) -> GcHold:
        self._pause = paused_gc()
        self._pause.__enter__()
        return self

    def batch_done(self) -> None:
        self._batches += 1
        if self._batches % self.every == 0:
            self._release()  # the collector runs at the next allocation: pausing again makes one
            self.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._release()

    def _release(self) -> None:
        pause, self._pause = self._pause, None
        if pause is not None:
            pause.__exit__(None, None, None)


@dataclass(frozen=True)
class Batch:
    events: list[Tracked]
    last: int  # id of the batch's last notification, skipped ones included
    count: int  # notifications read, skipped ones included


def decode(
    decoder: Callable[[Notification], Any], notifications: Sequence[Notification]
) -> list[Tracked]:
    """Map notifications to domain events, skipping those no read model uses."""
    return [
        (decoder(n), n.id) for n in notifications if not n.topic.startswith(SKIPPED_TOPIC_PREFIX)
    ]


Row = tuple[int, Any, int, str, bytes | None]
"""A fetched log entry: notification id, originator id and version, topic, state (None
for an idempotency record's, which is left in the database)."""


def fetch_notifications(
    store: Application[Any], start: int, limit: int, stop: int | None = None
) -> Sequence[Notification]:
    """Notifications with ids ``>= start`` (and ``<= stop``), in log order (``fetch_rows``
    made into ``Notification`` objects; an idempotency record's state is ``b""``)."""
    return [_notification(*row) for row in fetch_rows(store, start, limit, stop)]


def fetch_rows(
    store: Application[Any], start: int, limit: int, stop: int | None = None
) -> Sequence[Row]:
    """The log entries with ids ``>= start`` (and ``<= stop``), in log order, as rows.

    On the Postgres recorder this is ``select_notifications`` with two changes, measured
    to read the log about 1.5 times faster: the state of idempotency records (which
    holds a whole command response) is left in the database, because no read model
    reads it, and the rows stay tuples (the decoder reads them as they are). Other
    recorders get ``select_notifications`` itself.
    """
    recorder: Any = store.recorder
    datastore = getattr(recorder, "datastore", None)
    if datastore is None or not hasattr(recorder, "events_table_name"):
        return [
            (n.id, n.originator_id, n.originator_version, n.topic, n.state)
            for n in recorder.select_notifications(start, limit, stop=stop)
        ]
    log = table(datastore.schema, recorder.events_table_name)
    query = sql.SQL(
        "SELECT notification_id, originator_id, originator_version, topic, "
        "CASE WHEN starts_with(topic, %s) THEN NULL ELSE state END "
        "FROM {} WHERE notification_id >= %s AND notification_id <= %s "
        "ORDER BY notification_id LIMIT %s"
    )
    params = (SKIPPED_TOPIC_PREFIX, start, stop if stop is not None else 2**63 - 1, limit)
    # Binary results: the state arrives as raw bytes, not as hex text twice its size.
    with (
        datastore.get_connection() as conn,
        conn.cursor(row_factory=tuple_row, binary=True) as cur,
    ):
        _generic_plans(conn)
        statement = compiled(cur, ("notifications", log), lambda: query.format(log))
        cur.execute(statement, params, prepare=True)
        rows: list[Row] = cur.fetchall()
        return rows


def decode_rows(decoder: Callable[[Notification], Any], rows: Sequence[Row]) -> list[Tracked]:
    """``decode`` for fetched rows: a decoder with a ``rows`` method (``FastDecoder``)
    decodes the batch's rows as they are, without a ``Notification`` made for each."""
    batch = getattr(decoder, "rows", None)
    if batch is None:
        return decode(decoder, [_notification(*r) for r in rows])
    decoded: list[Tracked] = batch(rows)
    return decoded


def _read(
    store: Application[Any],
    decoder: Callable[[Notification], Any],
    start: int,
    limit: int,
    stop: int | None,
) -> Batch | None:
    """The batch of entries from ``start``, decoded; None at the end of the log."""
    rows = fetch_rows(store, start, limit, stop)
    if not rows:
        return None
    return Batch(decode_rows(decoder, rows), rows[-1][0], len(rows))


_GENERIC: weakref.WeakSet[Any] = weakref.WeakSet()


def _generic_plans(conn: Any) -> None:
    """Have Postgres plan this connection's prepared statements once, for any values.

    By default the first five executions of a prepared statement on a connection are
    planned for their values, from the table's statistics. Right after a burst of writes
    those are stale (the log's last analysed length is far below its real one), and the
    planner then thinks a batch's range holds a few rows: it reads every row to the end
    of the log and sorts them to keep the first ``limit`` (200 ms for a 2,000-event batch
    50,000 events from the end, against 2 ms by the index). The pool hands out many
    connections in turn, so most batches of a catch-up ran those first executions: about
    2 of the 3.7 s of Postgres CPU a 100k-event catch-up cost. The generic plan reads the
    index in order and stops at ``limit``. The setting stays on the pooled connection,
    where the library's own statements (reads and writes by primary key) plan the same."""
    if conn not in _GENERIC:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        _GENERIC.add(conn)


def _notification(
    id: int, originator_id: Any, originator_version: int, topic: str, state: bytes | None
) -> Notification:
    """``Notification(...)`` built the way the library builds events (the dataclass's own
    ``__init__`` costs about twice as much, per row of every batch)."""
    n = object.__new__(Notification)
    object.__setattr__(
        n,
        "__dict__",
        {
            "originator_id": originator_id,
            "originator_version": originator_version,
            "topic": topic,
            "state": state or b"",
            "id": id,
        },
    )
    return n


def read_batches(
    store: Application[Any],
    decoder: Callable[[Notification], Any],
    after: int,
    batch_size: int,
    stop: int | None = None,
) -> Generator[Batch, None, None]:
    """Batches of the notifications after ``after`` (up to ``stop``), read one ahead.

    The iterator ends when the log (or ``stop``) is reached. Closing it early (``break``)
    stops the reader thread; an error in the reader is raised here.

    The first batch is read in the calling thread, and the reader thread starts only if
    it was full: the live worker, woken by each commit, mostly finds less than a batch,
    and a thread started and joined for it cost about a tenth of such a drain.
    """
    with paused_gc():
        first = _read(store, decoder, after + 1, batch_size, stop)
    if first is None:
        return
    last = first.last
    more = first.count == batch_size and (stop is None or last < stop)
    yield first
    if more:
        yield from _read_ahead(store, decoder, last, batch_size, stop)


def _read_ahead(
    store: Application[Any],
    decoder: Callable[[Notification], Any],
    after: int,
    batch_size: int,
    stop: int | None,
) -> Generator[Batch, None, None]:
    """``read_batches`` with a thread that reads and decodes one batch ahead."""
    ready: queue.Queue[Batch | BaseException | None] = queue.Queue(maxsize=1)
    closing = threading.Event()

    def put(item: Batch | BaseException | None) -> None:
        while not closing.is_set():
            try:
                ready.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read() -> None:
        position = after
        try:
            while not closing.is_set() and (stop is None or position < stop):
                with paused_gc():
                    batch = _read(store, decoder, position + 1, batch_size, stop)
                if batch is None:
                    break
                position = batch.last
                put(batch)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(exc)
            return
        put(None)

    reader = threading.Thread(target=read, name="tally-log-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = ready.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        closing.set()
        reader.join(timeout=10)
