"""``tally export events``: the raw event log as JSON lines, with positions and hashes
(docs/audit.md), streamed through a server-side cursor however long the log is.

One line per event, in log order:

    {"position": 7, "aggregate_id": "…", "version": 2, "topic": "tally:Account.Deposited",
     "state": "{…}", "hash": "…"}

``state`` is the stored bytes as text when they are UTF-8 (Tally's JSON events always
are), else ``state_base64``; either way an auditor gets the exact bytes back, so the
chain can be recomputed from the export alone (``canonical`` in adapters/audit_chain.py).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import orjson
import psycopg
from psycopg import sql

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


def _line(
    position: int, aggregate_id: Any, version: int, topic: str, state: bytes, hash_: bytes | None
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
    line["hash"] = bytes(hash_).hex() if hash_ is not None else None
    return orjson.dumps(line) + b"\n"


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
