"""DDL for every read model and for the projections' tracking table.

``create_tables(pool, schema)`` is idempotent (``IF NOT EXISTS`` throughout) and is called
by the composition root at start-up. ``create_tables_on(conn, schema, ...)`` does the same
on one connection; replay uses it with ``unlogged=True, secondary_indexes=False`` to build
its scratch copy quickly. The tables it creates are defined in ``projections.tables``;
this module adds the two the projections keep for themselves:

It also fills fields added to the rows' stored summaries since a deployment wrote them
(``projections.tables.FILLED_FIELDS``), as the projection computes them today.

- ``projection_tracking``: one row per projection, the last notification id it applied.
- ``projection_stalls``: one row per read model that has stopped on an event it cannot
  apply (``position`` is that event's notification id; ``blocked_by`` names the read
  model it waits for when it stopped because one it reads did), kept by
  ``projections.stalls``.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from projections.statements import TableName
from projections.statements import table as shared_table
from projections.tables import ADDED_COLUMNS, CHANGED_KEYS, FILLED_FIELDS, TABLES, Table

TRACKING_TABLE = "projection_tracking"
STALLS_TABLE = "projection_stalls"


def table(schema: str, name: str) -> TableName:
    """The table ``name`` of ``schema``, qualified and quoted for a query: one shared
    object per pair (``projections.statements``)."""
    return shared_table(schema, name)


def _added_columns(ident: sql.Identifier, table: Table) -> list[sql.Composed]:
    return [
        sql.SQL("ALTER TABLE {}.{} ADD COLUMN IF NOT EXISTS {}").format(
            ident, sql.Identifier(table.name), sql.SQL(column)
        )
        for name, column in ADDED_COLUMNS
        if name == table.name
    ]


def _filled_fields(ident: sql.Identifier, table: Table) -> list[sql.Composed]:
    return [
        sql.SQL("UPDATE {}.{} SET {}").format(ident, sql.Identifier(table.name), sql.SQL(fill))
        for name, fill in FILLED_FIELDS
        if name == table.name
    ]


def _changed_key(schema: str, table: Table) -> list[sql.Composed]:
    """Move ``table`` to its new primary key when its key has fewer columns (a table
    created before the key changed: ``CHANGED_KEYS``), and drop the indexes the change
    replaces; nothing when it already has it (one catalogue lookup)."""
    ident = sql.Identifier(schema)
    out = []
    for name, columns, replaced in CHANGED_KEYS:
        if name != table.name:
            continue
        drops = sql.SQL("").join(
            sql.SQL(" DROP INDEX IF EXISTS {}.{};").format(ident, sql.Identifier(index))
            for index in replaced
        )
        out.append(
            sql.SQL(
                "DO $key$ BEGIN IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON "
                "c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
                "n.nspname = {schema} AND c.relname = {name} AND i.indisprimary AND "
                "i.indnatts < {count}) THEN ALTER TABLE {ident}.{table} DROP CONSTRAINT "
                "{pkey}, ADD PRIMARY KEY ({columns});{drops} END IF; END $key$"
            ).format(
                schema=sql.Literal(schema),
                name=sql.Literal(name),
                count=sql.Literal(len(columns.split(","))),
                ident=ident,
                table=sql.Identifier(name),
                pkey=sql.Identifier(f"{name}_pkey"),
                columns=sql.SQL(columns),
                drops=drops,
            )
        )
    return out


def _statements(schema: str, *, unlogged: bool, secondary_indexes: bool) -> list[sql.Composed]:
    ident = sql.Identifier(schema)
    kind = sql.SQL("UNLOGGED TABLE" if unlogged else "TABLE")
    out = [sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident)]
    tables = (
        *TABLES,
        Table(TRACKING_TABLE, "name text NOT NULL, position bigint NOT NULL", "name"),
        Table(
            STALLS_TABLE,
            "name text NOT NULL, position bigint NOT NULL, error text NOT NULL, "
            "blocked_by text, since timestamptz NOT NULL",
            "name",
        ),
    )
    for table in tables:
        out.append(
            sql.SQL("CREATE {} IF NOT EXISTS {}.{} ({}, PRIMARY KEY ({}))").format(
                kind,
                ident,
                sql.Identifier(table.name),
                sql.SQL(table.columns),
                sql.SQL(table.primary_key),
            )
        )
        out.extend(_added_columns(ident, table))
        out.extend(_changed_key(schema, table))
        out.extend(_filled_fields(ident, table))
        if not secondary_indexes:
            continue
        for index in table.indexes:
            name, spec = index.split(":", 1)
            columns, _, where = spec.partition(" WHERE ")
            statement = sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {}.{} ({})").format(
                sql.Identifier(name), ident, sql.Identifier(table.name), sql.SQL(columns)
            )
            if where:
                statement += sql.SQL(" WHERE {}").format(sql.SQL(where))
            out.append(statement)
    return out


def create_tables_on(
    conn: psycopg.Connection[Any],
    schema: str,
    *,
    unlogged: bool = False,
    secondary_indexes: bool = True,
) -> None:
    """Create the schema and every read-model table in it, if missing, on ``conn``."""
    # Concurrent starts (several server workers) would race on CREATE ... IF NOT EXISTS,
    # which is not atomic in Postgres; a transaction-level advisory lock serialises them.
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"tally-ddl:{schema}",))
        # All of it in one round trip (a query without parameters may hold several
        # statements): about 75 statements, which, one at a time, cost a server start
        # (and each test's) 20 ms on a quiet machine and 200 ms on a loaded one.
        statements = _statements(schema, unlogged=unlogged, secondary_indexes=secondary_indexes)
        conn.execute(sql.SQL("; ").join(statements))


def create_tables(pool: ConnectionPool[Any], schema: str) -> None:
    """Create every read-model table in ``schema`` if missing (idempotent)."""
    with pool.connection() as conn:
        create_tables_on(conn, schema)
