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
- ``aggregate_at``: the aggregate rebuilt at that position as the library's repository
  rebuilds a version (its newest snapshot at or before the version, ``Account`` being
  snapshotted every 200 events, and the events after it), in one statement with the
  version's bisection: one round trip, where the repository takes two after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder
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


# The version of aggregate %(id)s at position %(p)s, as the CTE ``v(version)`` (after
# ``WITH RECURSIVE``): a bisection over its versions, which are contiguous from 1 and
# whose positions rise with them, each step one probe of the primary key.
_VERSION = sql.SQL(
    "b(lo, hi) AS ("
    " SELECT 0::int8, coalesce((SELECT max(originator_version) FROM {t}"
    "  WHERE originator_id = %(id)s), 0)::int8"
    " UNION ALL"
    " SELECT CASE WHEN e.id <= %(p)s THEN m.mid ELSE b.lo END,"
    "        CASE WHEN e.id <= %(p)s THEN b.hi ELSE m.mid - 1 END"
    " FROM b CROSS JOIN LATERAL (SELECT (b.lo + b.hi + 1) / 2 AS mid) m"
    " CROSS JOIN LATERAL (SELECT notification_id AS id FROM {t}"
    "  WHERE originator_id = %(id)s AND originator_version = m.mid) e"
    " WHERE b.lo < b.hi), "
    "v(version) AS (SELECT max(lo) FROM b)"
)


def version_at(
    conn: psycopg.Connection[Any], schema: str, table: str, aggregate_id: UUID, position: int
) -> int:
    """The version ``aggregate_id`` had once the log reached ``position`` (0: none)."""
    query = sql.SQL("WITH RECURSIVE {} SELECT version FROM v").format(
        _VERSION.format(t=_events(schema, table))
    )
    row = conn.execute(query, {"id": aggregate_id, "p": position}).fetchone()
    assert row is not None
    return int(_values(row)[0] or 0)


def aggregate_at(
    conn: psycopg.Connection[Any],
    store: TallyStore,
    schema: str,
    aggregate_id: UUID,
    position: int,
) -> Any:
    """The aggregate as it was once the log reached ``position`` (None: it did not exist
    yet): what the library's repository rebuilds for the version it had then (its newest
    snapshot at or before that version, and the events after it, decoded by the store's
    mapper and applied in order), read in one statement with the version's bisection."""
    statement = _fold_statement(store, schema)
    rows = conn.execute(statement, {"id": aggregate_id, "p": position}).fetchall()
    stored = (_values(row) for row in rows)
    events = (
        store.mapper.to_domain_event(
            StoredEvent(
                originator_id=aggregate_id,
                originator_version=version,
                topic=topic,
                state=bytes(state),
            )
        )
        for version, topic, state in stored
    )
    return _project(None, events)


def _fold_statement(store: TallyStore, schema: str) -> sql.Composed:
    events = _events(schema, store.events_table)
    version = _VERSION.format(t=events)
    if store.snapshots is None:
        return sql.SQL(
            "WITH RECURSIVE {v} SELECT originator_version AS v, topic, state FROM {t} "
            "WHERE originator_id = %(id)s AND originator_version <= (SELECT version FROM v) "
            "ORDER BY originator_version"
        ).format(v=version, t=events)
    recorder = store.snapshots.recorder
    assert isinstance(recorder, PostgresAggregateRecorder)  # the store is on Postgres
    snapshots = _events(schema, recorder.events_table_name)
    return sql.SQL(
        "WITH RECURSIVE {v}, s AS (SELECT originator_version, topic, state FROM {s} "
        " WHERE originator_id = %(id)s AND originator_version <= (SELECT version FROM v) "
        " ORDER BY originator_version DESC LIMIT 1) "
        "SELECT v, topic, state FROM ("
        " SELECT 0 AS k, originator_version AS v, topic, state FROM s UNION ALL"
        " SELECT 1, originator_version, topic, state FROM {t} WHERE originator_id = %(id)s"
        " AND originator_version > coalesce((SELECT originator_version FROM s), 0)"
        " AND originator_version <= (SELECT version FROM v)) f ORDER BY k, v"
    ).format(v=version, s=snapshots, t=events)


def _project(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's ``project_aggregate`` without its per-event ``isinstance`` check
    against a runtime ``Protocol`` (about half of a 100-event rebuild's time): every
    event the store decodes is a domain event with ``mutate``."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def _values(row: Any) -> list[Any]:
    return list(row.values()) if isinstance(row, dict) else list(row)
