"""The outbox's key became (position, ordinal) after deployments had created its tables:
a schema made before (``integration_events`` keyed by position, tracking rows and
attempts without an ordinal) is moved to the new key when Tally starts, its rows kept,
and a destination that had confirmed a position has every row at it."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from adapters.broker_publisher import create_tables as broker_tables
from adapters.webhook_attempts import create_tables as webhook_tables
from api.bootstrap import build
from api.settings import Settings
from projections.integration_events import LAST_ORDINAL

_OLD = (
    "CREATE SCHEMA {s}",
    "CREATE TABLE {s}.integration_events (position bigint NOT NULL, project_id uuid NOT NULL,"
    " type text NOT NULL, object_kind text NOT NULL, object_id uuid NOT NULL, object jsonb "
    "NOT NULL, occurred_at timestamptz NOT NULL, PRIMARY KEY (position))",
    "CREATE INDEX integration_events_project ON {s}.integration_events (project_id, position)",
    "INSERT INTO {s}.integration_events VALUES (7, gen_random_uuid(), "
    "'billing.customer.created', 'customer', gen_random_uuid(), '{{}}', now())",
    "CREATE TABLE {s}.broker_delivery_state (destination text PRIMARY KEY, position bigint "
    "NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())",
    "INSERT INTO {s}.broker_delivery_state (destination, position) VALUES ('rabbit://x', 7)",
    "CREATE TABLE {s}.webhook_delivery_state (endpoint_id uuid PRIMARY KEY, project_id uuid "
    "NOT NULL, position bigint NOT NULL, failures integer NOT NULL, next_attempt_at "
    "timestamptz, failing_since timestamptz)",
)


def _one(conn: psycopg.Connection[Any], query: str) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


@pytest.mark.fresh_schema
def test_an_outbox_made_before_the_ordinal_is_moved_to_the_new_key(
    settings: Settings, pg_url: str, schema: str
) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for statement in _OLD:
            conn.execute(statement.format(s=f'"{schema}"'))
    for _ in range(2):  # the second start finds the new key and changes nothing
        tally = build(settings)
        try:  # the publisher's table is made when a broker is configured
            broker_tables(tally.views, schema)
            webhook_tables(tally.views, schema)
        finally:
            tally.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        key = _one(
            conn,
            "SELECT array_agg(a.attname::text ORDER BY k.n) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace ns ON ns.oid = "
            "c.relnamespace CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(att, n) "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.att "
            f"WHERE ns.nspname = '{schema}' AND c.relname = 'integration_events' "
            "AND i.indisprimary",
        )
        assert key == ["position", "ordinal"]
        indexes = _one(
            conn,
            "SELECT array_agg(indexname::text ORDER BY indexname) FROM pg_indexes "
            f"WHERE schemaname = '{schema}' AND tablename = 'integration_events'",
        )
        assert indexes == ["integration_events_page", "integration_events_pkey"]
        kept = conn.execute(
            f'SELECT position, ordinal FROM "{schema}".integration_events'
        ).fetchall()
        assert kept == [(7, 0)]
        confirmed = conn.execute(
            f'SELECT position, ordinal FROM "{schema}".broker_delivery_state'
        ).fetchall()
        assert confirmed == [(7, LAST_ORDINAL)]
        tracking = _one(
            conn,
            "SELECT column_default FROM information_schema.columns WHERE table_schema = "
            f"'{schema}' AND table_name = 'webhook_delivery_state' AND column_name = 'ordinal'",
        )
        assert tracking == str(LAST_ORDINAL)
