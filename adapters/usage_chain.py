"""The usage events' own hash chain (issue 15; docs/audit.md, "The usage chain").

Usage events are rows of ``usage_events`` (adapters/usage_store.py), not stored events, so
they are not on the event log's chain; they have one of their own, one per schema:
``hash = SHA-256(previous usage hash || the row's canonical bytes)``, in the order of the
row's position in the chain.

It is computed where a batch is written, in the batch's transaction, after its rows and
totals: the batch locks the one row of ``usage_chain`` (the chain's head), gives its new
rows the next positions, hashes them in Python onto the head, writes one row for the
batch into ``usage_chain_batches`` (its first position, its rows' transaction ids in
chain order and their 32-byte hashes, concatenated) and moves the head, all before it
commits; the usage rows are not written again. So batches take turns
only for that last step (the head's row lock is what makes the order total), a batch
that rolls back leaves neither rows nor links, and the head always names the last row.

Why not a row trigger as the event log has: ``INSERT ... ON CONFLICT DO NOTHING`` fires a
``BEFORE INSERT`` trigger for the rows it then drops as duplicates, which would hash
them into the chain; and a statement's rows would take the lock one by one.

The canonical bytes of a row are the binary ``COPY`` tuple (without the field count) of
``chain_position, project_id, transaction_id, customer_id, subscription_id, event_name,
occurred_at, properties, meter_ids, received_at``: each an ``int4`` length (-1 for NULL)
then Postgres's binary form of the stored value. The writer has Postgres compute them from
the inserted row (``RETURNING``), so what is hashed is what is stored (jsonb as Postgres
keeps it), and ``verify`` hashes slices of a binary COPY stream, as for the event log.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg import Cursor, sql

from adapters.audit_chain import GENESIS
from adapters.audit_verify import Verification, stream_chain

BACKFILL_LINK = 1_000  # rows per link row the backfill writes
_POSITION = struct.Struct("!iq")  # (8, position): the first field of the canonical bytes
COLUMNS = (
    "project_id, transaction_id, customer_id, subscription_id, event_name, occurred_at, "
    "properties, meter_ids, received_at"
)
DDL = (
    "CREATE TABLE IF NOT EXISTS {s}.usage_chain (one boolean PRIMARY KEY DEFAULT true "
    "CHECK (one), position bigint NOT NULL, hash bytea NOT NULL)",
    # One row per batch: its rows' transaction ids in chain order from first_position,
    # and the hash after each.
    "CREATE TABLE IF NOT EXISTS {s}.usage_chain_batches (first_position bigint PRIMARY KEY, "
    "project_id uuid NOT NULL, transaction_ids text[] NOT NULL, hashes bytea NOT NULL)",
    # The canonical bytes after the position (the writer knows the position only once it
    # holds the head). Text in UTF-8, as binary COPY sends it to a UTF-8 client.
    "CREATE OR REPLACE FUNCTION {s}.usage_canonical_v1(project uuid, tx text, customer uuid,"
    " subscription uuid, name text, occurred timestamptz, props jsonb, meters uuid[],"
    " received timestamptz) RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE AS $body$ "
    "SELECT CASE WHEN project IS NULL THEN '\\xffffffff'::bytea"
    " ELSE '\\x00000010'::bytea || uuid_send(project) END"
    " || CASE WHEN tx IS NULL THEN '\\xffffffff'::bytea"
    " ELSE int4send(octet_length(convert_to(tx, 'UTF8'))) || convert_to(tx, 'UTF8') END"
    " || '\\x00000010'::bytea || uuid_send(customer)"
    " || CASE WHEN subscription IS NULL THEN '\\xffffffff'::bytea"
    " ELSE '\\x00000010'::bytea || uuid_send(subscription) END"
    " || int4send(octet_length(convert_to(name, 'UTF8'))) || convert_to(name, 'UTF8')"
    " || '\\x00000008'::bytea || timestamptz_send(occurred)"
    " || int4send(length(jsonb_send(props))) || jsonb_send(props)"
    " || int4send(length(array_send(meters))) || array_send(meters)"
    " || '\\x00000008'::bytea || timestamptz_send(received) $body$",
)
CANONICAL = f"{{s}}.usage_canonical_v1({COLUMNS})"
_HEAD = "SELECT position, hash FROM {}.usage_chain FOR UPDATE"
_LINK = (
    "WITH linked AS (INSERT INTO {s}.usage_chain_batches VALUES (%s, %s, "
    "string_to_array(%s, E'\\x1f'), %b)) "
    "UPDATE {s}.usage_chain SET position = %s, hash = %b"
)


def create_chain(cur: Cursor[Any], schema: str) -> None:
    """The chain's tables and function (idempotent; the caller holds the usage tables'
    set-up lock). When the head is made, the rows from before the chain are chained."""
    s = sql.Identifier(schema)
    for statement in DDL:
        cur.execute(sql.SQL(statement).format(s=s))
    cur.execute(
        sql.SQL(
            "INSERT INTO {}.usage_chain (position, hash) VALUES (0, %s) "
            "ON CONFLICT DO NOTHING RETURNING 1"
        ).format(s),
        [GENESIS],
    )
    if cur.fetchone() is not None:
        backfill(cur, schema)


def canonical(position: int, rest: bytes) -> bytes:
    return _POSITION.pack(8, position) + rest


def link(
    cur: Cursor[Any], schema: str, project_id: UUID, rows: Sequence[tuple[str, bytes]]
) -> None:
    """Chain a batch's new rows ((transaction id, canonical bytes after the position),
    in the batch's order) onto the head, in the caller's transaction: one link row."""
    if not rows:
        return
    s = sql.Identifier(schema)
    cur.execute(sql.SQL(_HEAD).format(s), prepare=True)
    head = cur.fetchone()
    assert head is not None, "usage_chain has no head row"
    first, previous = int(head[0]) + 1, bytes(head[1])
    hashes = []
    sha256 = hashlib.sha256
    for position, (_, rest) in enumerate(rows, first):
        previous = sha256(previous + _POSITION.pack(8, position) + rest).digest()
        hashes.append(previous)
    last = first + len(rows) - 1
    ids = "\x1f".join([tx for tx, _ in rows])
    cur.execute(
        sql.SQL(_LINK).format(s=s),
        # The ids joined by U+001F, which none holds (text without control characters),
        # split by Postgres in C (a list parameter is dumped element by element in
        # Python), and the hashes as one value: every 32 bytes one row's.
        [first, project_id, ids, b"".join(hashes), last, previous],
        prepare=True,
    )


def backfill(cur: Cursor[Any], schema: str) -> int:
    """Chain every row that is on no link (rows from before the chain), after the head,
    per project in the order they were received; returns how many. Holds the head's
    lock, so writers wait (a one-off)."""
    s = sql.Identifier(schema)
    cur.execute(sql.SQL(_HEAD).format(s))
    head = cur.fetchone()
    assert head is not None
    position, previous = int(head[0]), bytes(head[1])
    cur.execute(
        sql.SQL(
            "SELECT project_id, transaction_id, " + CANONICAL + " FROM {s}.usage_events "
            "WHERE (project_id, transaction_id) NOT IN (SELECT l.project_id, u.tx "
            "FROM {s}.usage_chain_batches l, unnest(l.transaction_ids) AS u(tx)) "
            'ORDER BY project_id, received_at, transaction_id COLLATE "C"'
        ).format(s=s)
    )
    unchained = cur.fetchall()
    link_sql = sql.SQL("INSERT INTO {}.usage_chain_batches VALUES (%s, %s, %s, %s)").format(s)
    start = 0
    while start < len(unchained):
        project = unchained[start][0]
        rows = [r for r in unchained[start : start + BACKFILL_LINK] if r[0] == project]
        hashes = []
        for _, _, rest in rows:
            position += 1
            previous = hashlib.sha256(previous + canonical(position, bytes(rest))).digest()
            hashes.append(previous)
        first = position - len(rows) + 1
        cur.execute(link_sql, [first, project, [r[1] for r in rows], b"".join(hashes)])
        start += len(rows)
    if unchained:
        cur.execute(
            sql.SQL("UPDATE {}.usage_chain SET position = %s, hash = %s").format(s),
            [position, previous],
        )
    return len(unchained)


@dataclass(frozen=True)
class UsageHead:
    position: int
    hash: bytes | None


def read_usage_head(conn: psycopg.Connection[Any], schema: str) -> UsageHead:
    row = conn.execute(
        sql.SQL("SELECT position, hash FROM {}.usage_chain").format(sql.Identifier(schema))
    ).fetchone()
    if row is None:
        return UsageHead(0, None)
    position, digest = list(row.values()) if isinstance(row, dict) else list(row)
    return UsageHead(int(position), bytes(digest) if position else None)


# The chain in order: each link row's ids and hashes, with the rows they name (none for a
# row that was deleted: its NULL columns then cannot match).
_CHAIN = (
    "SELECT l.first_position + u.n - 1, "
    + ", ".join("e." + c.strip() for c in COLUMNS.split(","))
    + ", substring(l.hashes FROM (u.n * 32 - 31)::int FOR 32) FROM {s}.usage_chain_batches l "
    "CROSS JOIN LATERAL unnest(l.transaction_ids) WITH ORDINALITY AS u(tx, n) "
    "LEFT JOIN {s}.usage_events e ON e.project_id = l.project_id AND e.transaction_id = u.tx "
    "ORDER BY l.first_position, u.n"
)
_OFF_CHAIN = (
    "SELECT e.project_id, e.transaction_id FROM {s}.usage_events e "
    "WHERE (e.project_id, e.transaction_id) NOT IN (SELECT l.project_id, u.tx "
    "FROM {s}.usage_chain_batches l, unnest(l.transaction_ids) AS u(tx)) LIMIT 1"
)


def verify_usage(
    conn: psycopg.Connection[Any], schema: str, progress: Callable[[int], None] | None = None
) -> Verification:
    """Recompute the whole usage chain. Beside the links, two things only the ends can
    show: rows cut off the end (the head is not the last link) and a row on no link
    (inserted around Tally's writer, or from before the chain)."""
    s = sql.Identifier(schema)
    result = Verification()
    copy_sql = sql.SQL("COPY (" + _CHAIN + ") TO STDOUT (FORMAT BINARY)").format(s=s)
    stream_chain(conn, copy_sql.as_bytes(conn), GENESIS, result, None, progress)
    if not result.ok:
        return result
    head = read_usage_head(conn, schema)
    last = result.last or 0
    if head.position != last or (last and head.hash != result.head_hash):
        result.failed_at = min(head.position, last) + 1
        result.problem = (
            f"the usage chain's head is position {head.position}, but its links end at "
            f"{last}: rows were cut off its end, or the head was changed"
        )
        return result
    rows = conn.execute(sql.SQL("SELECT count(*) FROM {}.usage_events").format(s)).fetchone()
    count = int(next(iter(rows.values())) if isinstance(rows, dict) else rows[0]) if rows else 0
    if count != last:
        loose = conn.execute(sql.SQL(_OFF_CHAIN).format(s=s)).fetchone()
        project, tx = (
            (list(loose.values()) if isinstance(loose, dict) else list(loose))
            if loose
            else ("?", "?")
        )
        result.problem = (
            f"usage event {tx} of project {project} is on no link of the chain: inserted "
            "around Tally, or stored before the chain (tally audit backfill)"
        )
    return result


def row_at(conn: psycopg.Connection[Any], schema: str, position: int) -> str:
    """Which usage event is at a chain position, for a report."""
    row = conn.execute(
        sql.SQL(
            "SELECT l.project_id, l.transaction_ids[%s - l.first_position + 1] "
            "FROM {}.usage_chain_batches l WHERE l.first_position <= %s "
            "ORDER BY l.first_position DESC LIMIT 1"
        ).format(sql.Identifier(schema)),
        [position, position],
    ).fetchone()
    values = (list(row.values()) if isinstance(row, dict) else list(row)) if row else []
    if not values or values[1] is None:
        return f"position {position}, after the chain's end"
    return f"usage event {values[1]} of project {values[0]}"
