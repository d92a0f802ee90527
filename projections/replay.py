"""Replay: rebuild every read model from the event log and compare it with the live one.

``replay(store, pool, schema, *, progress, batch_size=20000) -> ReplayReport``

1. Creates the scratch tables: temporary tables of its own database session, with the
   live tables' columns and only primary keys (those of the append-only tables,
   ``APPEND_ONLY``, are added after the rebuild, which is faster than keeping them up
   to date row by row).
2. Runs the live projection code (``projections.runner.project_batch``) over the log
   up to the live read models' position, with a tqdm bar when ``progress`` is true and
   the log is long; a thread runs each batch's statements while the read models build
   the next one (``projections.replay_applying``).
3. In one transaction: locks the live tracking rows ``FOR SHARE`` (the live worker
   advances them first in each batch, so it now waits and the live tables hold still),
   replays the events the worker applied meanwhile, and compares every read-model table
   with its scratch copy inside Postgres: a full outer join on the primary key pairs the
   rows, and a row without a partner or with any column ``IS DISTINCT FROM`` its
   partner's is a difference (except a table's ``uncompared`` columns, whose value
   depends on the batches: an integration event's object). The comparison is
   ``projections.replay_comparison``.
4. Returns the report; closing its session drops the scratch tables.

``report.ok`` is true when no table differs; ``report.summary()`` is the text the CLI
prints: events, seconds and events/s, the position compared at, and per table the row
counts and differences, with up to three differing rows named by primary key (the
columns that differ, or which side lacks the row). Only one replay per schema runs at
a time (an advisory lock); a second one raises ``ReplayBusy``. Replay never writes to
the live read models (it only creates the live tracking rows at position 0 if no worker
ever has). A schema whose read models are not all at one position (a read model added
since the worker last ran) gives a report with ``error`` set and ``ok`` false.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.application import Application
from psycopg import sql
from psycopg_pool import ConnectionPool
from tqdm import tqdm

from projections.base import ReadModel, rows_of
from projections.decoding import FastDecoder
from projections.reading import Batch, paused_gc, read_batches
from projections.replay_applying import apply_batches, meanwhile
from projections.replay_comparison import TableDiff, compare_table
from projections.runner import (
    conninfo,
    current_position,
    make_models,
    read_positions,
)
from projections.schema import TRACKING_TABLE
from projections.tables import TABLES, Table

PROGRESS_MIN_EVENTS = 10_000  # shorter replays finish before a bar would help
# Tables the projections only add rows to (COPY or a plain INSERT) and never read,
# update or upsert while applying a batch. Replay builds these without their primary
# key and adds it once the bulk of the log is in: filling a table and then indexing it
# was measured at about half the database time of keeping its index up to date row by
# row (random UUID keys), and the rebuild waits for that time. A table wrongly listed
# here could only make the rebuild slower (a lookup without its index) or fail (an
# upsert without its key); adding the key still rejects duplicate rows, and the
# comparison runs with every key in place.
APPEND_ONLY = ("transaction_accounts", "journal_entries", "postings", "integration_events")
# The replayed tables are this session's temporary tables: ``pg_temp`` names its own
# temporary schema wherever a schema name goes.
SCRATCH = "pg_temp"
# The most memory the server may use to cache them (it takes only what it needs). The
# default, 8MB, is less than the tables of a 100,000-event ledger log (about 25MB);
# what does not fit is written out to files and read back.
TEMP_BUFFERS = "256MB"


class ReplayBusy(RuntimeError):
    """Another replay of the same schema is running."""


@dataclass
class ReplayReport:
    events: int  # notifications replayed (idempotency records included)
    position: int  # the live position the comparison was made at
    head: int  # the last notification id in the log when the comparison was made
    seconds: float  # rebuilding the read models
    compare_seconds: float
    tables: list[TableDiff]
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and all(t.differences == 0 for t in self.tables)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        """The report as ``tally replay --json`` prints it (snake_case, like the API; the
        log's last position is ``head_position`` as in ``tally projections status``)."""
        return {
            "ok": self.ok,
            "error": self.error or None,
            "events": self.events,
            "events_per_s": round(self.events_per_s, 1),
            "seconds": round(self.seconds, 3),
            "compare_seconds": round(self.compare_seconds, 3),
            "position": self.position,
            "head_position": self.head,
            "tables": [
                {
                    "table": t.table,
                    "live_rows": t.live_rows,
                    "replayed_rows": t.replayed_rows,
                    "only_live": t.only_live,
                    "only_replayed": t.only_replayed,
                    "differences": t.differences,
                    "samples": t.samples,
                }
                for t in self.tables
            ],
        }

    def summary(self) -> str:
        lines = [
            f"replayed {self.events} events in {self.seconds:.2f}s "
            f"({self.events_per_s:,.0f} events/s); compared in {self.compare_seconds:.2f}s",
            f"live read models at position {self.position} of {self.head}",
        ]
        if self.error:
            lines.append(f"error: {self.error}")
        for t in self.tables:
            state = "ok" if t.differences == 0 else f"{t.differences} rows differ"
            lines.append(
                f"  {t.table:<22} live {t.live_rows:>9}  replayed {t.replayed_rows:>9}  {state}"
            )
            lines.extend(f"      {sample}" for sample in t.samples)
        lines.append("OK: the read models match the event log" if self.ok else "DIFFERENCES FOUND")
        return "\n".join(lines)


def replay(
    store: Application[Any],
    pool: ConnectionPool[Any],
    schema: str,
    *,
    progress: bool,
    batch_size: int = 20_000,
) -> ReplayReport:
    with psycopg.connect(conninfo(pool), autocommit=True) as conn:
        lock = conn.execute(
            "SELECT pg_try_advisory_lock(hashtext(%s))", (f"tally-replay:{schema}",)
        ).fetchone()
        if not (lock and lock[0]):
            raise ReplayBusy(f"a replay of schema {schema} is already running")
        try:
            return _replay_locked(store, pool, conn, schema, progress, batch_size)
        finally:
            # Closing the connection drops the temporary tables, in the server after the
            # client has gone (also when the replay failed part way). The lock is let go
            # first, so that a replay started right after this one need not wait for that;
            # on a broken connection, closing it lets the lock go.
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"tally-replay:{schema}",))


def _replay_locked(
    store: Application[Any],
    pool: ConnectionPool[Any],
    conn: psycopg.Connection[Any],
    schema: str,
    progress: bool,
    batch_size: int,
) -> ReplayReport:
    # The scratch tables are disposable; their commits need not wait for the disk.
    conn.execute("SET synchronous_commit = off")
    # Each comparison hashes one side of a table; with the default 4MB the postings of a
    # 100,000-event log were already split into batches written to disk.
    conn.execute("SET work_mem = '64MB'")
    models = make_models(pool, SCRATCH, rebuilding=True)
    target = current_position(pool, schema)

    def prepare() -> None:
        _create_scratch(conn)
        with conn.cursor() as cur:
            read_positions(cur, SCRATCH, models)

    started = time.perf_counter()
    # Fresh scratch tables: every read model starts from the beginning of the log.
    positions = {m.name: 0 for m in models}
    events, positions = _rebuild(
        store, conn, SCRATCH, models, positions, target, batch_size, progress, prepare
    )
    _add_keys(conn)
    seconds = time.perf_counter() - started
    return _compare_locked(
        store, conn, schema, SCRATCH, models, positions, events, seconds, batch_size
    )


def _create_scratch(conn: psycopg.Connection[Any]) -> None:
    """This session's temporary copy of every read-model table and of the tracking
    table, with only primary keys (none yet on the ``APPEND_ONLY`` ones), in one round
    trip.

    Temporary tables write no WAL and, unlike unlogged ones, need no flush to disk when
    they are created or dropped (measured: creating them took less than half the time),
    and no one else can see or touch them. The column definitions are the live ones
    (``TABLES``), so the comparison compares like with like.
    """
    # temp_buffers can only be set before the session's first temporary table.
    conn.execute(sql.SQL("SET temp_buffers = {}").format(sql.Literal(TEMP_BUFFERS)))
    # The tracking table as projections.schema defines it (replay never compares it).
    tracking = Table(TRACKING_TABLE, "name text NOT NULL, position bigint NOT NULL", "name")
    statements = []
    for table in (*TABLES, tracking):
        key: sql.Composable = sql.SQL("")
        if table.name not in APPEND_ONLY:
            key = sql.SQL(", PRIMARY KEY ({})").format(sql.SQL(table.primary_key))
        statements.append(
            sql.SQL("CREATE TEMPORARY TABLE {} ({}{})").format(
                sql.Identifier(table.name), sql.SQL(table.columns), key
            )
        )
    conn.execute(sql.SQL("; ").join(statements))


def _add_keys(conn: psycopg.Connection[Any]) -> None:
    """Give the ``APPEND_ONLY`` scratch tables their primary keys (which checks that
    the rebuild made no two rows with one key, as inserting into them would have)."""
    for table in TABLES:
        if table.name in APPEND_ONLY:
            conn.execute(
                sql.SQL("ALTER TABLE {}.{} ADD PRIMARY KEY ({})").format(
                    sql.Identifier(SCRATCH), sql.Identifier(table.name), sql.SQL(table.primary_key)
                )
            )


def _rebuild(
    store: Application[Any],
    conn: psycopg.Connection[Any],
    scratch: str,
    models: list[ReadModel],
    positions: dict[str, int],
    target: int,
    batch_size: int,
    progress: bool,
    prepare: Callable[[], None] | None = None,
    *,
    pipelined: bool = True,
) -> tuple[int, dict[str, int]]:
    """Project notifications after the scratch position up to ``target``; ``prepare``
    (creating the scratch tables) runs while the first batch is read and decoded.
    ``pipelined``: see ``projections.replay_applying``."""
    total = 0
    start = min(positions.values())
    bar = tqdm(
        total=max(0, target - start),
        unit="ev",
        unit_scale=True,
        desc="replay",
        disable=not progress or target - start < PROGRESS_MIN_EVENTS,
    )
    # The collector stays paused for the whole rebuild, not batch by batch: the batches
    # make almost no reference cycles (a 100,000-event rebuild left about ten objects
    # for it to free), but each time it came back on it walked the tens of thousands of
    # objects of the batch decoded ahead, which took several percent of the rebuild.
    batches: Iterator[Batch] = read_batches(
        store, FastDecoder(store), start, batch_size, stop=target
    )
    if prepare is not None:
        batches = meanwhile(prepare, batches)

    def done(batch: Batch) -> None:
        nonlocal total, start
        total += batch.count
        bar.update(batch.last - start)
        start = batch.last

    with bar, paused_gc():
        positions = apply_batches(
            conn, scratch, models, positions, batches, done, pipelined=pipelined
        )
    return total, positions


def _compare_locked(
    store: Application[Any],
    conn: psycopg.Connection[Any],
    schema: str,
    scratch: str,
    models: list[ReadModel],
    positions: dict[str, int],
    events: int,
    seconds: float,
    batch_size: int,
) -> ReplayReport:
    with conn.transaction(), conn.cursor() as cur:
        # A schema whose worker never ran has no tracking rows yet; create them at 0 so
        # that there is something to lock and a worker starting now must wait.
        read_positions(cur, schema, models)
        wanted = {m.name for m in models}
        cur.execute(
            sql.SQL("SELECT name, position FROM {}.{} WHERE name = ANY(%s) FOR SHARE").format(
                sql.Identifier(schema), sql.Identifier(TRACKING_TABLE)
            ),
            (list(wanted),),
        )
        live = {name: int(position) for name, position in rows_of(cur)}
        head = store.recorder.max_notification_id() or 0
        if set(live) != wanted or len(set(live.values())) > 1:
            return ReplayReport(
                events, min(live.values(), default=0), head, seconds, 0.0, [],
                error=f"the live read models are not all at one position ({live}); "
                "let the projection worker catch up and run replay again",
            )  # fmt: skip
        position = next(iter(live.values()))
        started = time.perf_counter()
        # Savepoints in this transaction, applied at once: the lock must hold.
        more, positions = _rebuild(
            store, conn, scratch, models, positions, position, batch_size, progress=False,
            pipelined=False,
        )  # fmt: skip
        seconds += time.perf_counter() - started
        started = time.perf_counter()
        tables = [compare_table(cur, schema, scratch, t) for t in TABLES]
        return ReplayReport(
            events + more, position, head, seconds, time.perf_counter() - started, tables
        )
