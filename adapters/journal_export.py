"""``tally export journal`` and ``GET /v1/exports/journal``: journal entries and their
postings, with accounts named, as CSV or JSON lines (docs/audit.md), streamed through a
server-side cursor however long the journal is.

The rows come from the ``journal_entries`` and ``postings`` read models
(projections/journal.py) joined with ``accounts`` for a wallet's owner, in log order
(position, then entry id, then the posting's order in its entry). The client holds one
fetch of rows (``EXPORT_BATCH``) at a time, so memory stays flat whatever the window.

CSV: one row per posting, the entry's columns repeated on each (``CSV_COLUMNS``).
JSON lines: one line per entry, its postings in a list.

A window is a range of log positions, of times, or both (``Window``); bounds are
inclusive, and a ``--to`` given as a date takes the whole of that day (UTC).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from domain.errors import InvalidWindow

EXPORT_BATCH = 5_000
FORMATS = ("csv", "jsonl")
CSV_COLUMNS = (
    "entry_id",
    "position",
    "created_at",
    "kind",
    "source_id",
    "currency",
    "seq",
    "account",
    "account_owner",
    "amount",
    "project_id",
)


class BadBound(InvalidWindow):
    """A ``from``/``to`` that is neither a position, a date nor a timestamp (through the
    API: one the pattern lets through that names no real day, such as 2026-02-31)."""


@dataclass(frozen=True)
class Window:
    """Which entries: positions ``first..last`` and times ``since..until`` (all
    inclusive; None: unbounded)."""

    first: int | None = None
    last: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def window(start: str | None, stop: str | None) -> Window:
    """A window from two texts: each a log position (digits), a date (``2026-03-31``)
    or an ISO 8601 timestamp with its offset. A date ``stop`` covers its whole day."""
    first = last = None
    since = until = None
    if start:
        if start.isdigit():
            first = int(start)
        else:
            since = _instant(start, end_of_day=False)
    if stop:
        if stop.isdigit():
            last = int(stop)
        else:
            until = _instant(stop, end_of_day=True)
    return Window(first, last, since, until)


def _instant(text: str, *, end_of_day: bool) -> datetime:
    try:
        if len(text) == 10:
            day = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
            return day + timedelta(days=1, microseconds=-1) if end_of_day else day
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadBound(f"{text!r} is not a position, a date or a timestamp") from None
    if moment.tzinfo is None:
        raise BadBound(f"{text!r} has no UTC offset (add Z or +hh:mm)")
    return moment


def _conditions(project_id: UUID | None, bounds: Window) -> tuple[sql.Composed, list[Any]]:
    conditions: list[sql.Composable] = [sql.SQL("TRUE")]
    params: list[Any] = []
    for column, op, value in (
        ("project_id", "=", project_id),
        ("position", ">=", bounds.first),
        ("position", "<=", bounds.last),
        ("created_at", ">=", bounds.since),
        ("created_at", "<=", bounds.until),
    ):
        if value is not None:
            conditions.append(sql.SQL("e.{} " + op + " %s").format(sql.Identifier(column)))
            params.append(value)
    return sql.SQL(" AND ").join(conditions), params


# The columns of a posting's row (CSV_COLUMNS' order) from entries ``e``, postings and
# accounts: the API's instants in UTC, microseconds, Z (whatever the session's time
# zone); only a wallet's ref holds a uuid to cast, and the CASE keeps others from it.
_ROWS = (
    "SELECT e.id, e.position, "
    "to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
    "e.kind, e.transaction_id, e.currency, "
    "p.seq, p.account, a.owner_ref, p.amount, e.project_id "
    "FROM {from_} e JOIN {p} p ON p.entry_id = e.id AND p.project_id = e.project_id "
    "LEFT JOIN {a} a ON a.project_id = e.project_id AND a.id = CASE WHEN "
    "p.account LIKE 'wallet:%%' THEN substr(p.account, 8)::uuid END "
)


def _rows_query(schema: str, from_: sql.Composable, where: sql.Composable) -> sql.Composed:
    return sql.SQL(_ROWS + "WHERE {where} ORDER BY e.position, e.id, p.seq").format(
        from_=from_,
        p=sql.Identifier(schema, "postings"),
        a=sql.Identifier(schema, "accounts"),
        where=where,
    )


def _query(schema: str, project_id: UUID | None, bounds: Window) -> tuple[sql.Composed, list[Any]]:
    where, params = _conditions(project_id, bounds)
    return _rows_query(schema, sql.Identifier(schema, "journal_entries"), where), params


def _chunk_query(schema: str, project_id: UUID, bounds: Window) -> tuple[sql.Composed, list[Any]]:
    """The postings of the next entries after a (position, entry id), at most a number
    of entries: the parameters ``bounds``' own, then position, position, id, count."""
    where, params = _conditions(project_id, bounds)
    chunk = sql.SQL(
        "(SELECT * FROM {e} e WHERE {where} AND e.position >= %s "
        "AND (e.position, e.id) > (%s, %s) ORDER BY e.position, e.id LIMIT %s)"
    ).format(e=sql.Identifier(schema, "journal_entries"), where=where)
    return _rows_query(schema, chunk, sql.SQL("TRUE")), params


def posting_rows(
    conn: psycopg.Connection[Any], schema: str, project_id: UUID | None, bounds: Window
) -> Iterator[tuple[Any, ...]]:
    """One tuple per posting (``CSV_COLUMNS``' order), in log order."""
    query, params = _query(schema, project_id, bounds)
    with conn.transaction(), conn.cursor(name="tally_export_journal", row_factory=tuple_row) as cur:
        cur.itersize = EXPORT_BATCH
        cur.execute(query, params)
        yield from cur


# Entries read per chunk through the API (their postings with them).
CHUNK_ENTRIES = 1_000

Connect = Callable[[], AbstractContextManager[psycopg.Connection[Any]]]


def chunked_posting_rows(
    connect: Connect,
    schema: str,
    project_id: UUID,
    bounds: Window,
    limit: int,
    chunk: int = CHUNK_ENTRIES,
) -> Iterator[tuple[Any, ...]]:
    """``posting_rows`` of one project's first ``limit`` entries, read ``chunk`` entries
    at a time, each chunk in its own checkout of ``connect()`` given back before its rows
    are yielded: a slow client holds no connection and no transaction. The journal
    read model only grows, in log order, so the keyset (position, entry id) misses none."""
    query, params = _chunk_query(schema, project_id, bounds)
    after: tuple[int, UUID] = (-1, UUID(int=0))
    left = limit
    while left > 0:
        size = min(chunk, left)
        with connect() as conn, conn.cursor(row_factory=tuple_row) as cur:
            rows = cur.execute(query, [*params, after[0], *after, size]).fetchall()
        yield from rows
        entries = len({row[0] for row in rows})
        if entries < size:
            return
        after, left = (rows[-1][1], rows[-1][0]), left - entries


def _csv_line(row: tuple[Any, ...]) -> bytes:
    buffer = io.StringIO()
    entry_id, position, created_at, *rest = row
    csv.writer(buffer, lineterminator="\n").writerow(
        [entry_id, position, created_at, *("" if v is None else v for v in rest)]
    )
    return buffer.getvalue().encode()


def csv_lines(rows: Iterator[tuple[Any, ...]], count: Callable[[int], object]) -> Iterator[bytes]:
    """The header, then one CSV line per posting; ``count(1)`` per entry."""
    yield (",".join(CSV_COLUMNS) + "\n").encode()
    previous = None
    for row in rows:
        if row[0] != previous:
            previous = row[0]
            count(1)
        yield _csv_line(row)


def jsonl_lines(rows: Iterator[tuple[Any, ...]], count: Callable[[int], object]) -> Iterator[bytes]:
    """One JSON line per entry, its postings in a list; ``count(1)`` per entry."""
    entry: dict[str, Any] | None = None
    for row in rows:
        entry_id, position, created_at, kind, source, currency, _, account, owner, amount, pid = row
        if entry is None or entry["id"] != str(entry_id):
            if entry is not None:
                yield orjson.dumps(entry) + b"\n"
            count(1)
            entry = {
                "id": str(entry_id),
                "position": position,
                "created_at": created_at,
                "kind": kind,
                "source_id": str(source),
                "currency": currency,
                "project_id": str(pid),
                "postings": [],
            }
        entry["postings"].append({"account": account, "account_owner": owner, "amount": amount})
    if entry is not None:
        yield orjson.dumps(entry) + b"\n"


def _entries_at_most(rows: Iterator[tuple[Any, ...]], limit: int) -> Iterator[tuple[Any, ...]]:
    """The rows of the first ``limit`` entries (a row's first column is its entry)."""
    seen, previous = 0, None
    for row in rows:
        if row[0] != previous:
            seen, previous = seen + 1, row[0]
            if seen > limit:
                return
        yield row


def journal_lines(
    conn: psycopg.Connection[Any],
    schema: str,
    project_id: UUID | None,
    bounds: Window,
    form: str,
    count: Callable[[int], object] = lambda _: None,
    limit: int | None = None,
) -> Iterator[bytes]:
    """The journal of ``project_id`` (every project's: None) in ``bounds``, as lines of
    ``form`` (``csv`` or ``jsonl``), at most ``limit`` entries (None: all), read through
    one server-side cursor on ``conn`` (the command line's)."""
    rows = posting_rows(conn, schema, project_id, bounds)
    if limit is not None:
        rows = _entries_at_most(rows, limit)
    return lines_of(rows, form, count)


def lines_of(
    rows: Iterator[tuple[Any, ...]], form: str, count: Callable[[int], object] = lambda _: None
) -> Iterator[bytes]:
    """Posting rows as lines of ``form`` (``csv`` or ``jsonl``)."""
    return csv_lines(rows, count) if form == "csv" else jsonl_lines(rows, count)
