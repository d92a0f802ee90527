"""``tally export events``: the raw event log as JSON lines, with positions and hashes
(docs/audit.md), streamed through a server-side cursor however long the log is.

One line per event, in log order:

    {"position": 7, "aggregate_id": "…", "version": 2, "topic": "tally:Account.Deposited",
     "state": "{…}", "hash": "…"}

``state`` is the stored bytes as text when they are UTF-8 (Tally's JSON events always
are), else ``state_base64``; either way an auditor gets the exact bytes back, so the
chain can be recomputed from the export alone (``canonical`` in adapters/audit_chain.py).

The API's export of one project (``project_event_lines``) is the exception: the fields
of ``domain.secret_fields`` (API-key hashes, sealed secrets) are null in its ``state`` and
named in the line's ``redacted``, so that line's hash cannot be recomputed from it; its
``previous_hash`` and ``hash`` are still the stored ones, so the lines around it check.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, BinaryIO
from uuid import UUID

import orjson
import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from domain.secret_fields import SECRET_FIELDS, redact

EXPORT_BATCH = 5_000


def event_lines(
    conn: psycopg.Connection[Any], schema: str, table: str, start: int, stop: int
) -> Iterator[bytes]:
    """The events of positions ``start..stop`` as JSON lines (each ending in a newline)."""
    query = sql.SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state, hash "
        "FROM {} WHERE notification_id >= %s AND notification_id <= %s "
        "ORDER BY notification_id"
    ).format(sql.Identifier(schema, table))
    with conn.transaction(), conn.cursor(name="tally_export_events", binary=True) as cur:
        cur.itersize = EXPORT_BATCH
        cur.execute(query, (start, stop))
        for row in cur:
            yield _line(*row)


# A project's aggregates: the project itself and every aggregate whose first event names
# it (every kind of Tally aggregate records its project in its creation event; the
# Project's own events are its id's). ``project_id`` is stored as the event store's
# uuid transcoding, {"_type_": "uuid_hex", "_data_": "<32 hex digits>"}, and found through
# the partial index on ``event_project(state)`` over creation events (install_export_index):
# the expression below must stay the index's, word for word, for Postgres to use it.
# One chunk: the next ``%s`` events after a position (keyset), so no statement outlives
# its chunk.
_PROJECT_EVENTS = (
    "WITH owned AS (SELECT originator_id FROM {t} WHERE originator_version = 1 AND "
    "{f}(state) = %s UNION SELECT %s::uuid) "
    "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state, "
    "e.hash, (SELECT p.hash FROM {t} p WHERE p.notification_id < e.notification_id "
    "ORDER BY p.notification_id DESC LIMIT 1) "
    "FROM {t} e WHERE e.originator_id IN (SELECT originator_id FROM owned) "
    "AND e.notification_id > %s AND e.notification_id <= %s "
    "ORDER BY e.notification_id LIMIT %s"
)

# The project a creation event names, as 32 hex digits (NULL: none, or a state that is not
# JSON). IMMUTABLE so that it can be indexed: the database's encoding is UTF-8, so the
# conversion only checks the bytes, and a given state always gives the same answer. A
# state that is not UTF-8 JSON gives NULL rather than an error, which would refuse the
# event's insert: the index must never stand in a writer's way. PARALLEL UNSAFE because
# that EXCEPTION block opens a subtransaction, which Postgres refuses while a parallel
# operation runs (in the leader too), so a parallel plan calling it failed; CREATE OR
# REPLACE gives stores made before the same declaration at their next start.
_EVENT_PROJECT = (
    "CREATE OR REPLACE FUNCTION {f}(state bytea) RETURNS text LANGUAGE plpgsql "
    "IMMUTABLE PARALLEL UNSAFE AS $body$ BEGIN "
    "RETURN convert_from(state, 'UTF8')::jsonb #>> '{{project_id,_data_}}'; "
    "EXCEPTION WHEN others THEN RETURN NULL; "
    "END $body$"
)
_PROJECT_INDEX = (
    "CREATE INDEX IF NOT EXISTS {i} ON {t} ({f}(state)) INCLUDE (originator_id) "
    "WHERE originator_version = 1"
)


def _names(schema: str, table: str) -> dict[str, sql.Identifier]:
    return {
        "t": sql.Identifier(schema, table),
        "f": sql.Identifier(schema, f"{table}_project"),
        "i": sql.Identifier(f"{table}_by_project"),
    }


def install_export_index(url: str, schema: str, table: str) -> None:
    """The index that finds a project's aggregates by their creation events, so that an
    export reads the project's own rows and not every tenant's (docs/audit.md). Built
    once on a store from before it (a pass over the table, at start-up); idempotent; the
    caller holds the schema's start-up lock."""
    names = _names(schema, table)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL(_EVENT_PROJECT).format(**names))
        conn.execute(sql.SQL(_PROJECT_INDEX).format(**names))


# Events read per chunk through the API: one chunk's rows are all a stream holds between
# two checkouts of a pooled connection (a few MB at most).
CHUNK_EVENTS = 2_000

Connect = Callable[[], AbstractContextManager[psycopg.Connection[Any]]]


def project_event_lines(
    connect: Connect,
    schema: str,
    table: str,
    project_id: UUID,
    bounds: tuple[int, int, int],
    chunk: int = CHUNK_EVENTS,
) -> Iterator[bytes]:
    """The events of ``project_id``'s aggregates at positions ``start..stop`` (at most
    ``limit`` of them) as JSON lines, each with ``previous_hash``: the chain hash of the
    event before it in the whole log (another project's, often; null for the first), so
    that each line's ``hash`` can be recomputed from the line alone, but for a line whose
    secret fields are redacted (module docstring).

    Read in chunks of ``chunk`` events, each in its own checkout of ``connect()`` given
    back before its lines are yielded: a client that reads slowly holds no connection
    and no transaction (docs/audit.md). Positions only grow, and an event is visible
    only once every earlier one is (the chain's head lock), so the keyset misses none."""
    start, stop, limit = bounds
    query = sql.SQL(_PROJECT_EVENTS).format(**_names(schema, table))
    after, left = start - 1, limit
    while left > 0:
        with connect() as conn, conn.cursor(binary=True, row_factory=tuple_row) as cur:
            rows = cur.execute(
                query, (project_id.hex, project_id, after, stop, min(chunk, left))
            ).fetchall()
        for position, aggregate_id, version, topic, state, hash_, previous in rows:
            yield _line(
                position, aggregate_id, version, topic, state, hash_, previous, chained=True
            )
        if len(rows) < min(chunk, left):
            return
        after, left = rows[-1][0], left - len(rows)


def _hex(value: bytes | None) -> str | None:
    return bytes(value).hex() if value is not None else None


def _line(
    position: int,
    aggregate_id: Any,
    version: int,
    topic: str,
    state: bytes,
    hash_: bytes | None,
    previous: bytes | None = None,
    chained: bool = False,
) -> bytes:
    line: dict[str, Any] = {
        "position": position,
        "aggregate_id": str(aggregate_id),
        "version": version,
        "topic": topic,
    }
    try:
        line["state"] = bytes(state).decode()
    except UnicodeDecodeError:
        line["state_base64"] = base64.b64encode(state).decode()
    if chained:
        if topic in SECRET_FIELDS and "state" in line:
            _redact(line)
        line["previous_hash"] = _hex(previous)
    line["hash"] = _hex(hash_)
    return orjson.dumps(line) + b"\n"


def _redact(line: dict[str, Any]) -> None:
    """Null the secret fields of ``line``'s state and name them (docs/audit.md)."""
    state = orjson.loads(line["state"])
    redacted = redact(line["topic"], state)
    if redacted:
        line["state"] = orjson.dumps(state).decode()
        line["redacted"] = redacted


def export_events(
    conn: psycopg.Connection[Any],
    schema: str,
    table: str,
    out: BinaryIO,
    start: int,
    stop: int,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Write the events to ``out``; the number written."""
    written = 0
    for line in event_lines(conn, schema, table, start, stop):
        out.write(line)
        written += 1
        if progress is not None and not written % 10_000:
            progress(10_000)
    return written
