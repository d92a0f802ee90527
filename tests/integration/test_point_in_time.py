"""The log's point-in-time reads (``adapters/point_in_time.py``) on real Postgres: an
aggregate rebuilt at a position in one statement equals what the library's repository
rebuilds for the version it had there, across snapshots; versions and times map to the
positions they should, also for rows stored before ``recorded_at`` existed."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import psycopg
from psycopg import sql

from adapters.point_in_time import (
    aggregate_at,
    moment_at_position,
    moment_at_time,
    version_at,
)
from api.bootstrap import NO_PROJECT, Tally
from commands import messages as m
from commands.bus import Context

DEPOSITS = 450  # past two snapshots (every 200 events of an account)


def _account_with_history(tally: Tally) -> tuple[UUID, list[int]]:
    """An account and the position each of its commands answered (index = version)."""
    project = tally.execute(m.CreateProject(name="pit"), Context(NO_PROJECT, "cli"))
    project_id = UUID(project.body["project"]["id"])
    context = Context(project_id, "test")
    opened = tally.execute(m.OpenAccount(owner_ref="o", currency="EUR"), context)
    account_id = UUID(opened.body["account"]["id"])
    positions = [0, int(opened.position or 0)]
    for i in range(DEPOSITS):
        done = tally.execute(
            m.Deposit(account_id=account_id, amount=i + 1, currency="EUR"), context
        )
        positions.append(int(done.position or 0))
    return account_id, positions


def _positions_of(tally: Tally, aggregate_id: UUID) -> list[int]:
    """The position of each of the aggregate's events (index = version; 0 unused)."""
    with tally.views.connection() as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT notification_id FROM {} WHERE originator_id = %s "
                "ORDER BY originator_version"
            ).format(sql.Identifier(tally.schema, tally.store.events_table)),
            (aggregate_id,),
        ).fetchall()
    return [0, *(int(r["notification_id"]) for r in rows)]


def test_versions_and_rebuilds_at_positions_equal_the_repository(tally: Tally) -> None:
    account_id, _ = _account_with_history(tally)
    positions = _positions_of(tally, account_id)
    table = tally.store.events_table
    with tally.views.connection() as conn:
        assert version_at(conn, tally.schema, table, account_id, positions[1] - 1) == 0
        assert aggregate_at(conn, tally.store, tally.schema, account_id, positions[1] - 1) is None
        for version in (1, 2, 199, 200, 201, 399, 400, 401, DEPOSITS + 1):
            position = positions[version]
            assert version_at(conn, tally.schema, table, account_id, position) == version
            # A position after this version's and before the next one's holds this version.
            if version < DEPOSITS + 1:
                between = positions[version + 1] - 1
                assert version_at(conn, tally.schema, table, account_id, between) == version
            rebuilt = aggregate_at(conn, tally.store, tally.schema, account_id, position)
            expected = tally.store.repository.get(account_id, version=version)
            assert rebuilt.version == version
            assert rebuilt.summary() == expected.summary()
            assert rebuilt.ledger == sum(range(1, version))  # deposits 1, 2, ... so far


def test_times_map_to_the_last_position_stored_at_or_before_them(tally: Tally) -> None:
    _, positions = _account_with_history(tally)
    schema, table = tally.schema, tally.store.events_table
    with tally.views.connection() as conn:
        head = moment_at_position(conn, schema, table, positions[-1])
        assert head is not None
        assert head.timestamp is not None
        assert moment_at_position(conn, schema, table, positions[-1] + 1) is None
        for version in (1, 50, 200, DEPOSITS + 1):
            moment = moment_at_position(conn, schema, table, positions[version])
            assert moment is not None
            assert moment.timestamp is not None
            assert moment_at_time(conn, schema, table, moment.timestamp) == moment
            earlier = moment_at_time(
                conn, schema, table, moment.timestamp - timedelta(microseconds=1)
            )
            assert earlier.position < moment.position
        first = moment_at_position(conn, schema, table, 1)
        assert first is not None
        assert first.timestamp is not None
        assert (
            moment_at_time(conn, schema, table, first.timestamp - timedelta(days=1)).position == 0
        )
        assert moment_at_time(conn, schema, table, head.timestamp + timedelta(days=1)) == head
        # Rows stored before the column existed stand at their events' own times. One
        # writer's commands, one after the other, record each batch's events after the
        # last batch's, so a time between two batches maps to the first one's end.
        events = sql.Identifier(schema, table)
        conn.execute(sql.SQL("UPDATE {} SET recorded_at = NULL").format(events))
        for version in (2, 200, DEPOSITS + 1):
            row = conn.execute(
                sql.SQL(
                    "SELECT max((convert_from(state, 'UTF8')::jsonb #>> "
                    "'{{timestamp,_data_}}')::timestamptz) AS at FROM {} "
                    "WHERE notification_id > %s AND notification_id <= %s"
                ).format(events),
                (positions[version - 1], positions[version]),
            ).fetchone()
            assert row is not None
            ended = row["at"]
            assert moment_at_time(conn, schema, table, ended).position == positions[version]
            before = moment_at_time(conn, schema, table, ended - timedelta(microseconds=1))
            assert before.position < positions[version]


def test_recorded_at_is_set_by_postgres_on_every_insert(tally: Tally) -> None:
    _account_with_history(tally)
    with psycopg.connect(tally.target.url) as conn:
        row = conn.execute(
            sql.SQL(
                "SELECT count(*) FILTER (WHERE recorded_at IS NULL), "
                "bool_and(recorded_at >= prev) FROM (SELECT recorded_at, "
                "lag(recorded_at) OVER (ORDER BY notification_id) AS prev FROM {}) r"
            ).format(sql.Identifier(tally.schema, tally.store.events_table))
        ).fetchone()
    assert row == (0, True)
