"""Point-in-time reads of the event log (issue 15, docs/audit.md "Point in time").

What an ``as_of`` query needs from the log itself, never from a read model:

- ``moment_at_position``: the head, or the last event at or before a position, with the
  time it was recorded; ``None`` for a position beyond the head (no write has answered
  it, so no answer may read it);
- ``moment_at_time``: the last position recorded at or before a time. Each row of the
  event table has ``recorded_at`` (``install_recorded_at``: a column whose default is
  ``clock_timestamp()``, so it is set by Postgres as the row is inserted, under the
  table lock every writer holds until it commits): it rises with the position, so a
  bisection over positions finds the boundary, one index probe per step, in one
  statement. Rows stored before the column existed have none, and stand at the time
  the event itself was recorded (``timestamp`` in its stored state, taken by the
  domain just before its batch was written);
- ``version_at``: an aggregate's version at a position (0: it did not exist yet), by a
  bisection over its versions (contiguous from 1, each one index probe of the event
  table's primary key), in one statement, however many events the aggregate has;
- ``aggregate_at``: the aggregate rebuilt at that version by the library's repository,
  from its newest snapshot at or before the version (``Account`` is snapshotted every
  200 events) and the events after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from adapters.eventstore import TallyStore


@dataclass(frozen=True)
class Moment:
    """A position of the log and the time its last event was recorded (``None`` for
    position 0, before the first event)."""

    position: int
    timestamp: datetime | None


RECORDED_COLUMN = "recorded_at"
# When a row was stored; for a row from before the column, when its event was recorded
# (its stored state's timestamp, the library's transcoding of a datetime:
# {"_type_": "datetime_iso", "_data_": "<ISO 8601>"}).
_RECORDED = (
    "coalesce(recorded_at, "
    "(convert_from(state, 'UTF8')::jsonb #>> '{{timestamp,_data_}}')::timestamptz)"
)


def install_recorded_at(url: str, schema: str, table: str) -> None:
    """Add ``recorded_at`` to the event table if it lacks it. The column is not part of
    an event's stored bytes nor of its chain hash (docs/audit.md), and the library maps
    the columns it reads by name. Rows already there keep NULL: a default added with the
    column would give them all the time of this statement. Idempotent; the caller holds
    the schema's start-up lock."""
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(
            "SELECT column_default FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s AND column_name = %s",
            (schema, table, RECORDED_COLUMN),
        ).fetchone()
        if found is not None and found[0] is not None:
            return
        with conn.transaction():
            t = _events(schema, table)
            column = sql.Identifier(RECORDED_COLUMN)
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} timestamptz").format(t, column)
            )
            conn.execute(
                sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT clock_timestamp()").format(
                    t, column
                )
            )


def _events(schema: str, table: str) -> sql.Identifier:
    return sql.Identifier(schema, table)


def moment_at_position(
    conn: psycopg.Connection[Any], schema: str, table: str, position: int
) -> Moment | None:
    """The last event at or before ``position``; ``None`` if ``position`` is beyond the
    head. ``position`` itself is the answer's position (a position with no event of its
    own, an id the log skipped, answers what the event before it left)."""
    query = sql.SQL(
        "SELECT (SELECT max(notification_id) FROM {t}) AS head, "
        "(SELECT " + _RECORDED + " FROM {t} WHERE notification_id <= %s "
        "ORDER BY notification_id DESC LIMIT 1) AS at"
    ).format(t=_events(schema, table))
    row = conn.execute(query, (position,)).fetchone()
    assert row is not None
    head, at = _values(row)
    if position > int(head or 0):
        return None
    return Moment(position, at)


def moment_at_time(
    conn: psycopg.Connection[Any], schema: str, table: str, when: datetime
) -> Moment:
    """The last position recorded at or before ``when`` (0 before the first event; the
    head for a time after the last one)."""
    query = sql.SQL(
        "WITH RECURSIVE b(lo, hi) AS ("
        " SELECT 0::int8, coalesce((SELECT max(notification_id) FROM {t}), 0)"
        " UNION ALL"
        " SELECT CASE WHEN e.early THEN m.mid ELSE b.lo END,"
        "        CASE WHEN e.early THEN b.hi ELSE m.mid - 1 END"
        " FROM b CROSS JOIN LATERAL (SELECT (b.lo + b.hi + 1) / 2 AS mid) m"
        " CROSS JOIN LATERAL (SELECT coalesce(bool_and(at <= %(when)s), true) AS early FROM"
        "  (SELECT " + _RECORDED + " AS at FROM {t} WHERE notification_id <= m.mid"
        "   ORDER BY notification_id DESC LIMIT 1) last) e"
        " WHERE b.lo < b.hi)"
        " SELECT max(notification_id) AS position FROM {t}"
        " WHERE notification_id <= (SELECT max(lo) FROM b)"
    ).format(t=_events(schema, table))
    row = conn.execute(query, {"when": when}).fetchone()
    assert row is not None
    position = int(_values(row)[0] or 0)
    if position == 0:
        return Moment(0, None)
    moment = moment_at_position(conn, schema, table, position)
    assert moment is not None
    return moment


def version_at(
    conn: psycopg.Connection[Any], schema: str, table: str, aggregate_id: UUID, position: int
) -> int:
    """The version ``aggregate_id`` had once the log reached ``position`` (0: none)."""
    query = sql.SQL(
        "WITH RECURSIVE b(lo, hi) AS ("
        " SELECT 0::int8, coalesce((SELECT max(originator_version) FROM {t}"
        "  WHERE originator_id = %(id)s), 0)::int8"
        " UNION ALL"
        " SELECT CASE WHEN e.id <= %(p)s THEN m.mid ELSE b.lo END,"
        "        CASE WHEN e.id <= %(p)s THEN b.hi ELSE m.mid - 1 END"
        " FROM b CROSS JOIN LATERAL (SELECT (b.lo + b.hi + 1) / 2 AS mid) m"
        " CROSS JOIN LATERAL (SELECT notification_id AS id FROM {t}"
        "  WHERE originator_id = %(id)s AND originator_version = m.mid) e"
        " WHERE b.lo < b.hi)"
        " SELECT max(lo) AS version FROM b"
    ).format(t=_events(schema, table))
    row = conn.execute(query, {"id": aggregate_id, "p": position}).fetchone()
    assert row is not None
    return int(_values(row)[0] or 0)


def aggregate_at(store: TallyStore, aggregate_id: UUID, version: int) -> Any:
    """The aggregate at ``version`` (at least 1), from its newest snapshot at or before
    it and the events after that snapshot."""
    return store.repository.get(aggregate_id, version=version, projector_func=_project)


def _project(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's ``project_aggregate`` without its per-event ``isinstance`` check
    against a runtime ``Protocol`` (about half of a 100-event rebuild's time): every
    event the store decodes is a domain event with ``mutate``."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def _values(row: Any) -> list[Any]:
    return list(row.values()) if isinstance(row, dict) else list(row)
