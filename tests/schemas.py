"""Empty schemas for the Postgres tests, emptied and renamed rather than made anew.

Each Postgres test gets a schema of its own, under a name no earlier test used. Made from
nothing, a schema costs about 150 relations (tables, their primary keys, indexes and
TOAST tables): 0.4 s to create with Tally's start-up DDL and 0.1 s to drop on a quiet
machine, 1 to 2 s together under load, since every relation is a file Postgres creates
and later unlinks. Over some 650 Postgres tests that was 5 to 15 minutes of the suite.

So a schema a test is done with is reused when it still has exactly the shape a fresh
start gives it (same tables, columns, constraints, indexes, triggers and sequences,
compared as text against a schema built once per session): its rows are deleted, its
sequences set back to their start, its functions dropped (the bus's append function
and the hash chain's trigger name its schema's tables in their bodies; the first write,
and Tally's start, define them again), and it is
renamed to a fresh random name, all in one transaction. Deleting rows touches no file.
A later test then finds an empty schema under a new name, so nothing keyed by the
schema name (the read-your-writes progress of ``projections.registry``, advisory locks,
NOTIFY channels) can carry over from the test before. Tally's start-up DDL still runs
on it (``IF NOT EXISTS`` throughout) and finds everything there.

A schema whose shape differs (a test that made or changed objects, or one that stopped
half-built) is dropped, as before. Tests of creating a schema from nothing (concurrent
starts) ask for ``@pytest.mark.fresh_schema`` and get a name that does not exist yet.
"""

from __future__ import annotations

import secrets

import psycopg
from psycopg import sql

# The shape of a schema, as text without its name: one row per object and property.
SHAPE = """
SELECT 'rel ' || c.relname || ' ' || c.relkind::text || ' ' || c.relpersistence::text
  FROM pg_class c WHERE c.relnamespace = %(ns)s AND c.relkind <> 't'
UNION ALL
SELECT 'col ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || ' ' || a.attnotnull::text || ' ' || a.attidentity::text || ' '
       || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.relnamespace = %(ns)s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
   AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'con ' || conname || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = %(ns)s
UNION ALL
SELECT 'idx ' || pg_get_indexdef(i.indexrelid)
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = %(ns)s
UNION ALL
SELECT 'trg ' || t.tgname || ' ' || c.relname
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = %(ns)s
UNION ALL
SELECT 'typ ' || t.typname FROM pg_type t
 WHERE t.typnamespace = %(ns)s AND t.typtype NOT IN ('c', 'b')
UNION ALL
SELECT 'fun ' || p.proname FROM pg_proc p
 WHERE p.pronamespace = %(ns)s AND p.proname NOT LIKE %(append)s
"""

# The bus's append function (adapters.event_writer), which names its tables in its body.
APPEND_FUNCTIONS = "%\\_append\\_v%"


def new_name() -> str:
    return f"t_{secrets.token_hex(6)}"


def shape(conn: psycopg.Connection[tuple[object, ...]], schema: str) -> frozenset[str] | None:
    """The schema's shape with its name taken out, or None if there is no such schema."""
    row = conn.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    if row is None:
        return None
    rows = conn.execute(SHAPE, {"ns": row[0], "append": APPEND_FUNCTIONS}).fetchall()
    return frozenset(str(r[0]).replace(schema, "{schema}") for r in rows)


# Run by Postgres in one round trip: every row deleted, every sequence back at its start,
# every function dropped with the triggers that call it (Tally's functions name their
# schema's tables in their bodies; its next start defines them and the event log's hash
# chain trigger again), the schema renamed; waiting at most 2 s for a lock.
EMPTY_AND_RENAME = """
DO $empty$
DECLARE r record;
BEGIN
  PERFORM set_config('lock_timeout', '2s', true);
  FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = {schema} LOOP
    EXECUTE format('DELETE FROM %I.%I', {schema}, r.tablename);
  END LOOP;
  PERFORM setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false)
     FROM pg_sequences WHERE schemaname = {schema};
  FOR r IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = {schema} LOOP
    EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', r.signature);
  END LOOP;
  EXECUTE format('ALTER SCHEMA %I RENAME TO %I', {schema}, {to});
END
$empty$
"""


def empty_and_rename(conn: psycopg.Connection[tuple[object, ...]], schema: str, to: str) -> None:
    """Delete every row of ``schema``, restart its sequences, drop its functions and
    rename it ``to``, in one transaction (which waits at most 2 s for a lock)."""
    conn.execute(sql.SQL(EMPTY_AND_RENAME).format(schema=sql.Literal(schema), to=sql.Literal(to)))


def drop(conn: psycopg.Connection[tuple[object, ...]], schema: str) -> None:
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


class SchemaPool:
    """Hands out schema names for one test session (one process) and takes them back.

    ``reference`` is the shape of a schema Tally has just built, with nothing written:
    a schema handed back with that shape is emptied, renamed and handed out again."""

    def __init__(self, url: str, reference: frozenset[str]) -> None:
        self.url = url
        self.reference = reference
        self.ready: list[str] = []  # empty schemas of the reference shape, under new names
        self.reused = 0
        self.dropped = 0

    def take(self, *, fresh: bool = False) -> str:
        if fresh or not self.ready:
            return new_name()
        return self.ready.pop()

    def give_back(self, schema: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            found = shape(conn, schema)
            if found is None:
                return
            if found == self.reference:
                name = new_name()
                try:
                    empty_and_rename(conn, schema, name)
                except psycopg.errors.LockNotAvailable:
                    pass  # still in use (a server the test left running): dropped below
                else:
                    self.ready.append(name)
                    self.reused += 1
                    return
            drop(conn, schema)
            self.dropped += 1

    def close(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            for schema in self.ready:
                drop(conn, schema)
        self.ready.clear()
