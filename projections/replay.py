"""Replay: rebuild every read model from the event log and compare it with the live one.

``replay(store, pool, schema, *, progress, batch_size=20000) -> ReplayReport``

1. Creates fresh tables in the scratch schema ``f"{schema}_replay"`` (unlogged, only
   primary keys: they are thrown away), dropping any left by an interrupted run.
2. Runs the live projection code (``projections.runner.project_batch``) over the log
   up to the live read models' position, with a tqdm bar when ``progress`` is true and
   the log is long.
3. In one transaction: locks the live tracking rows ``FOR SHARE`` (the live worker
   advances them first in each batch, so it now waits and the live tables hold still),
   replays the events the worker applied meanwhile, and compares every read-model table
   with its scratch copy row by row (``EXCEPT ALL`` both ways, every column).
4. Drops the scratch schema and returns the report.

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

import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from eventsourcing.application import Application
from psycopg import sql
from psycopg_pool import ConnectionPool
from tqdm import tqdm

from projections.base import ReadModel, rows_of
from projections.decoding import FastDecoder
from projections.reading import paused_gc, read_batches
from projections.runner import (
    conninfo,
    current_position,
    make_models,
    project_batch,
    read_positions,
)
from projections.schema import TABLES, TRACKING_TABLE, Table, create_tables_on

PROGRESS_MIN_EVENTS = 10_000  # shorter replays finish before a bar would help
SAMPLE_ROWS = 3


class ReplayBusy(RuntimeError):
    """Another replay of the same schema is running."""


@dataclass
class TableDiff:
    table: str
    live_rows: int
    replayed_rows: int
    only_live: int  # rows in the live table that the replay did not produce
    only_replayed: int  # rows the replay produced that the live table lacks
    samples: list[str] = field(default_factory=list)

    @property
    def differences(self) -> int:
        return self.only_live + self.only_replayed


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
    scratch = f"{schema}_replay"
    with psycopg.connect(conninfo(pool), autocommit=True) as conn:
        lock = conn.execute(
            "SELECT pg_try_advisory_lock(hashtext(%s))", (f"tally-replay:{schema}",)
        ).fetchone()
        if not (lock and lock[0]):
            raise ReplayBusy(f"a replay of schema {schema} is already running")
        # The scratch tables are disposable; their commits need not wait for the disk.
        conn.execute("SET synchronous_commit = off")
        _drop(conn, scratch)
        try:
            create_tables_on(conn, scratch, unlogged=True, secondary_indexes=False)
            models = make_models(pool, scratch)
            with conn.cursor() as cur:
                positions = read_positions(cur, scratch, models)
            target = current_position(pool, schema)
            started = time.perf_counter()
            events, positions = _rebuild(
                store, conn, scratch, models, positions, target, batch_size, progress
            )
            seconds = time.perf_counter() - started
            return _compare_locked(
                store, conn, schema, scratch, models, positions, events, seconds, batch_size
            )
        finally:
            _drop(conn, scratch)


def _rebuild(
    store: Application[Any],
    conn: psycopg.Connection[Any],
    scratch: str,
    models: list[ReadModel],
    positions: dict[str, int],
    target: int,
    batch_size: int,
    progress: bool,
) -> tuple[int, dict[str, int]]:
    """Project notifications after the scratch position up to ``target``."""
    total = 0
    start = min(positions.values())
    bar = tqdm(
        total=max(0, target - start),
        unit="ev",
        unit_scale=True,
        desc="replay",
        disable=not progress or target - start < PROGRESS_MIN_EVENTS,
    )
    with bar:
        for batch in read_batches(store, FastDecoder(store), start, batch_size, stop=target):
            with paused_gc(), conn.transaction(), conn.cursor() as cur:
                positions = project_batch(cur, scratch, models, positions, batch.events, batch.last)
            total += batch.count
            bar.update(batch.last - start)
            start = batch.last
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
        more, positions = _rebuild(
            store, conn, scratch, models, positions, position, batch_size, progress=False
        )
        seconds += time.perf_counter() - started
        started = time.perf_counter()
        tables = [_compare_table(cur, schema, scratch, t) for t in TABLES]
        return ReplayReport(
            events + more, position, head, seconds, time.perf_counter() - started, tables
        )


def _compare_table(cur: psycopg.Cursor[Any], schema: str, scratch: str, table: Table) -> TableDiff:
    columns = table.column_names
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    live = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table.name))
    again = sql.SQL("{}.{}").format(sql.Identifier(scratch), sql.Identifier(table.name))
    only_live = sql.SQL("SELECT {c} FROM {a} EXCEPT ALL SELECT {c} FROM {b}").format(
        c=cols, a=live, b=again
    )
    only_replayed = sql.SQL("SELECT {c} FROM {b} EXCEPT ALL SELECT {c} FROM {a}").format(
        c=cols, a=live, b=again
    )
    cur.execute(
        sql.SQL(
            "SELECT (SELECT count(*) FROM {a}), (SELECT count(*) FROM {b}), "
            "(SELECT count(*) FROM ({x}) x), (SELECT count(*) FROM ({y}) y)"
        ).format(a=live, b=again, x=only_live, y=only_replayed)
    )
    live_rows, replayed_rows, n_live, n_replayed = rows_of(cur)[0]
    diff = TableDiff(table.name, live_rows, replayed_rows, n_live, n_replayed)
    if n_live or n_replayed:
        diff.samples = _samples(cur, table, only_live, only_replayed)
    return diff


def _samples(
    cur: psycopg.Cursor[Any], table: Table, only_live: sql.Composed, only_replayed: sql.Composed
) -> list[str]:
    """A few differing rows, each named by its primary key: the columns that differ
    when both sides have the row, else which side lacks it."""
    columns = table.column_names
    key = [c.strip() for c in table.primary_key.split(",")]
    sides: list[dict[tuple[Any, ...], dict[str, Any]]] = []
    for query in (only_live, only_replayed):
        cur.execute(query + sql.SQL(" LIMIT {}").format(SAMPLE_ROWS))
        rows = [dict(zip(columns, row, strict=True)) for row in rows_of(cur)]
        sides.append({tuple(r[k] for k in key): r for r in rows})
    live, replayed = sides
    lines = []
    for pk in list(live) + [pk for pk in replayed if pk not in live]:
        name = ", ".join(f"{k}={v}" for k, v in zip(key, pk, strict=True))
        if pk not in replayed:
            lines.append(f"{name}: only in the live table")
        elif pk not in live:
            lines.append(f"{name}: missing from the live table")
        else:
            changed = [c for c in columns if live[pk][c] != replayed[pk][c]]
            lines.append(
                f"{name}: "
                + "; ".join(
                    f"{c} live {live[pk][c]} != replayed {replayed[pk][c]}" for c in changed
                )
            )
    return lines


def _drop(conn: psycopg.Connection[Any], scratch: str) -> None:
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(scratch)))
