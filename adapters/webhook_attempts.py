"""The webhook delivery's own tables, the attempts log written a page at a time, its
pruning, and the queries the API and the CLI read it with (issue 12).

- ``webhook_delivery_state``: one tracking row per endpoint (the (position, ordinal) of
  the last event it acknowledged or skipped: the outbox's key; its failures, when it is
  due again, since when it has been failing).
- ``webhook_attempts``: one row per attempt (the event's position and ordinal, status,
  HTTP status, latency, the start of the answer, why it failed). Neither is a read
  model: they record what was sent, which no replay of the log could rebuild.

``write_page`` records a page of attempts and moves the endpoint's tracking row in one
transaction (one ``COPY`` and one ``UPDATE``), so a crash before it commits sends that
page again, with the same event ids: at least once, as promised.

``prune`` deletes attempts older than the retention period (``TALLY_WEBHOOK_ATTEMPTS_
RETENTION_DAYS``, 30 days by default) in chunks, each its own short transaction; the
tracking rows stay, so no endpoint loses its place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
from psycopg import sql

from adapters.webhook_transport import Sent
from domain.webhook_endpoints import WebhookEndpoint
from projections.integration_catalog import event_id
from projections.integration_events import LAST_ORDINAL
from projections.paging import check_limit, fetch_all, fetch_page, plain
from projections.schema import table

STATE_TABLE = "webhook_delivery_state"
ATTEMPTS_TABLE = "webhook_attempts"
# Attempts deleted per statement when pruning: a short transaction each, so pruning a
# long history never holds a lock (or the delivery) for long.
PRUNE_CHUNK = 10_000

_DDL = (
    "CREATE TABLE IF NOT EXISTS {state} (endpoint_id uuid PRIMARY KEY, "
    "project_id uuid NOT NULL, position bigint NOT NULL, failures integer NOT NULL, "
    "next_attempt_at timestamptz, failing_since timestamptz)",
    "CREATE TABLE IF NOT EXISTS {attempts} (seq bigserial PRIMARY KEY, id uuid NOT NULL "
    "UNIQUE, project_id uuid NOT NULL, endpoint_id uuid NOT NULL, event_id text NOT NULL, "
    "event_type text NOT NULL, position bigint NOT NULL, status text NOT NULL, "
    "http_status integer, latency_ms integer NOT NULL, response text NOT NULL, "
    "error text NOT NULL, redelivery boolean NOT NULL, created_at timestamptz NOT NULL)",
    "CREATE INDEX IF NOT EXISTS webhook_attempts_project ON {attempts} (project_id, seq)",
    # The outbox's key became (position, ordinal). A tracking row from before had every
    # row at its position (the largest ordinal); an attempt from before was of a
    # recorded event's own row (ordinal 0).
    f"ALTER TABLE {{state}} ADD COLUMN IF NOT EXISTS ordinal integer NOT NULL "
    f"DEFAULT {LAST_ORDINAL}",
    "ALTER TABLE {attempts} ADD COLUMN IF NOT EXISTS ordinal integer NOT NULL DEFAULT 0",
    # Pruning finds the old attempts by time.
    "CREATE INDEX IF NOT EXISTS webhook_attempts_created ON {attempts} (created_at)",
)
ATTEMPT_COLUMNS = (
    "id", "project_id", "endpoint_id", "event_id", "event_type", "position", "ordinal",
    "status", "http_status", "latency_ms", "response", "error", "redelivery", "created_at",
)  # fmt: skip


def attempt_row(
    endpoint: WebhookEndpoint,
    row: dict[str, Any],
    sent: Sent,
    at: datetime,
    redelivery: UUID | None = None,
) -> dict[str, Any]:
    """One attempt's row, sent to ``endpoint`` for the integration event ``row`` at
    ``at`` (``redelivery``: a redelivery's id, else a new one)."""
    return {
        "id": redelivery or uuid4(),
        "project_id": endpoint.project_id,
        "endpoint_id": endpoint.id,
        "event_id": event_id(int(row["position"]), row["type"], int(row["ordinal"])),
        "event_type": row["type"],
        "position": int(row["position"]),
        "ordinal": int(row["ordinal"]),
        "status": "succeeded" if sent.ok else "failed",
        "http_status": sent.status,
        "latency_ms": sent.latency_ms,
        "response": sent.response,
        "error": sent.error,
        "redelivery": redelivery is not None,
        "created_at": at,
    }


def create_tables(pool: Any, schema: str) -> None:
    names = {"state": table(schema, STATE_TABLE), "attempts": table(schema, ATTEMPTS_TABLE)}
    with pool.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"tally-ddl:{schema}",))
        for statement in _DDL:
            conn.execute(sql.SQL(statement).format(**names))


def tracking_row(
    conn: psycopg.Connection[Any], schema: str, endpoint_id: UUID, project_id: UUID
) -> dict[str, Any]:
    """The endpoint's tracking row; a new endpoint starts after the event that registered
    it (the ``webhook_endpoints`` read model's position, with every row at it): it gets
    what happens from then on."""
    t = table(schema, STATE_TABLE)
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (endpoint_id, project_id, position, ordinal, failures) "
            "SELECT %(id)s, %(project)s, coalesce((SELECT position FROM {} WHERE id = %(id)s), "
            "0), %(last)s, 0 ON CONFLICT (endpoint_id) DO NOTHING"
        ).format(t, table(schema, "webhook_endpoints")),
        {"id": endpoint_id, "project": project_id, "last": LAST_ORDINAL},
    )
    row = conn.execute(
        sql.SQL("SELECT * FROM {} WHERE endpoint_id = %s").format(t), (endpoint_id,)
    ).fetchone()
    assert row is not None
    return dict(row)


def write_page(
    conn: psycopg.Connection[Any],
    schema: str,
    attempts: list[dict[str, Any]],
    endpoint_id: UUID | None,
    moved: dict[str, Any] | None,
) -> None:
    """The attempts' rows and, unless ``moved`` is None (a redelivery), the endpoint's
    tracking row set to ``moved`` (only ``position`` and ``ordinal`` when it holds nothing
    else), in one
    transaction."""
    with conn.transaction():
        if attempts:
            copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
                table(schema, ATTEMPTS_TABLE),
                sql.SQL(", ").join(sql.Identifier(c) for c in ATTEMPT_COLUMNS),
            )
            with conn.cursor().copy(copy) as out:
                for attempt in attempts:
                    out.write_row([attempt[c] for c in ATTEMPT_COLUMNS])
        if moved is not None and endpoint_id is not None:
            sets = sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in moved
            )
            conn.execute(
                sql.SQL("UPDATE {} SET {} WHERE endpoint_id = %(endpoint_id)s").format(
                    table(schema, STATE_TABLE), sets
                ),
                {**moved, "endpoint_id": endpoint_id},
            )


def prune(pool: Any, schema: str, before: datetime) -> int:
    """Delete the attempts made before ``before``, a chunk per transaction; how many."""
    t = table(schema, ATTEMPTS_TABLE)
    statement = sql.SQL(
        "DELETE FROM {t} WHERE seq IN (SELECT seq FROM {t} WHERE created_at < %s LIMIT %s)"
    ).format(t=t)
    deleted = 0
    while True:
        with pool.connection() as conn:
            count = int(conn.execute(statement, (before, PRUNE_CHUNK)).rowcount)
        deleted += count
        if count < PRUNE_CHUNK:
            return deleted


# -- queries -------------------------------------------------------------------------------

_SHOWN_COLUMNS = (
    "SELECT id, endpoint_id, event_id, event_type, position, ordinal, status, http_status, "
    "latency_ms, response, error, redelivery, created_at FROM {} WHERE project_id = %s"
)


def shown(row: dict[str, Any]) -> dict[str, Any]:
    row.pop("project_id", None)
    row.pop("seq", None)
    return {**row, "object": "webhook_delivery"}


def get_attempt(
    pool: Any, schema: str, project_id: UUID, attempt_id: UUID
) -> dict[str, Any] | None:
    query = sql.SQL(_SHOWN_COLUMNS + " AND id = %s").format(table(schema, ATTEMPTS_TABLE))
    rows = fetch_all(pool, query, [project_id, attempt_id])
    return shown(plain(rows[0])) if rows else None


def list_attempts(
    pool: Any,
    schema: str,
    project_id: UUID,
    *,
    limit: int,
    starting_after: UUID | str | None,
    endpoint_id: UUID | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """The project's attempts, oldest first (``endpoint_id``: of that endpoint only)."""
    check_limit(limit)
    t = table(schema, ATTEMPTS_TABLE)
    query = sql.SQL(_SHOWN_COLUMNS).format(t)
    params: list[Any] = [project_id]
    if endpoint_id is not None:
        query += sql.SQL(" AND endpoint_id = %s")
        params.append(endpoint_id)
    if starting_after is not None:
        try:
            after = UUID(str(starting_after))
        except ValueError:
            return [], False
        query += sql.SQL(
            " AND seq > (SELECT seq FROM {} WHERE project_id = %s AND id = %s)"
        ).format(t)
        params += [project_id, after]
    query += sql.SQL(" ORDER BY seq LIMIT %s")
    rows, has_more = fetch_page(pool, query, params, limit)
    return [shown(plain(r)) for r in rows], has_more
