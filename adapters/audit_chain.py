"""The hash-chained event log (issue 15): every stored event carries
``hash = SHA-256(previous hash || canonical bytes of the event)``, in log order.

The hash is computed by Postgres itself, by one row-level ``BEFORE INSERT`` trigger on the
event table, in the transaction that inserts the event. So every writer is chained the
same way, the command bus's writer (``adapters/event_writer.py``) as well as the library's
recorder that tests, fixtures and benchmarks write through, and there is never a stretch
of the log without a chain, even after a writer is killed mid-batch (its transaction,
events and hashes alike, is rolled back).

- For the first row of a transaction, the trigger takes the table's ``EXCLUSIVE`` lock (a
  no-op for the writers, which hold it already to order notification ids), reads the last
  row's position and hash, and keeps them in a transaction-local setting; later rows read
  the setting. The lock is what makes "the last row" the chain's head: no other
  transaction can insert until this one commits.
- Each row is hashed onto that head, which then moves on; a row whose position is not
  after the head is refused (so the chain's order is the log's order, which is what
  ``verify`` walks). A writer that drew its notification id without holding the lock
  therefore fails (refused, or a deadlock on the lock upgrade) rather than interleaving.

The canonical bytes of an event are its five columns as Postgres's binary ``COPY`` sends
them, each an ``int4`` length (``-1`` for NULL) then the value: ``notification_id``
(``int8``), ``originator_id`` (16 bytes), ``originator_version`` (``int8``), ``topic``
(UTF-8) and ``state``. Length-prefixed, so no two different events have the same bytes;
and the very bytes a binary ``COPY`` of those columns streams, so ``verify`` hashes slices
of the stream without re-encoding anything (adapters/audit_verify.py).

The stored event bytes (topic, state) are never touched: the hash is one more column.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

HASH_COLUMN = "hash"
GENESIS = bytes(32)  # the "previous hash" of the first event of a log
# The trigger functions are named after the table and this version: a change to how the
# chain is computed takes a new version (and a new chain format, see docs/audit.md).
CHAIN_VERSION = "v1"
BACKFILL_CHUNK = 10_000

_FIXED = struct.Struct("!iqi16siq")  # (8, position), (16, id), (8, version)
_LENGTH = struct.Struct("!i")
_NULL = _LENGTH.pack(-1)


def canonical(
    position: int, originator_id: UUID, version: int, topic: str | None, state: bytes | None
) -> bytes:
    """An event's canonical bytes (the binary COPY tuple of its five columns, without
    the field count)."""
    fixed = _FIXED.pack(8, position, 16, originator_id.bytes, 8, version)
    encoded = topic.encode() if topic is not None else None
    return fixed + _field(encoded) + _field(state)


def _field(value: bytes | None) -> bytes:
    return _NULL if value is None else _LENGTH.pack(len(value)) + value


def link(previous: bytes, canonical_bytes: bytes) -> bytes:
    """The hash of an event whose predecessor's hash is ``previous``."""
    return hashlib.sha256(previous + canonical_bytes).digest()


@dataclass(frozen=True)
class ChainNames:
    """The SQL names of one event table's chain."""

    schema: str
    table: str

    def name(self, what: str) -> sql.Identifier:
        return sql.Identifier(self.schema, f"{self.table}_{what}_{CHAIN_VERSION}")

    @property
    def events(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.table)

    @property
    def setting(self) -> str:
        # A transaction-local setting holds "position:hex hash" of the chain's head while
        # a statement inserts; named after the table, so two schemas never share it.
        digest = hashlib.sha256(f"{self.schema}.{self.table}".encode()).hexdigest()[:16]
        return f"tally_chain.head_{digest}"

    @property
    def row_trigger(self) -> str:
        return f"{self.table}_chain_row_{CHAIN_VERSION}"


def _definitions(n: ChainNames) -> list[sql.Composed]:
    genesis = sql.Literal("\\x" + GENESIS.hex())
    setting = sql.Literal(n.setting)
    canonical_sql = sql.SQL(
        "CREATE OR REPLACE FUNCTION {f}(pos bigint, id uuid, ver bigint, topic text, "
        "state bytea) RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $body$ "
        "SELECT '\\x00000008'::bytea || int8send(pos) || '\\x00000010'::bytea || uuid_send(id)"
        " || '\\x00000008'::bytea || int8send(ver)"
        " || CASE WHEN topic IS NULL THEN '\\xffffffff'::bytea"
        " ELSE int4send(octet_length(convert_to(topic, 'UTF8'))) || convert_to(topic, 'UTF8')"
        " END"
        " || CASE WHEN state IS NULL THEN '\\xffffffff'::bytea"
        " ELSE int4send(length(state)) || state END $body$"
    ).format(f=n.name("canonical"))
    row = sql.SQL(
        "CREATE OR REPLACE FUNCTION {f}() RETURNS trigger LANGUAGE plpgsql AS $body$ "
        "DECLARE head text := current_setting({s}, true); last_pos bigint; last_hash bytea; "
        "BEGIN "
        "IF head IS NULL OR head = '' THEN "
        "LOCK TABLE {t} IN EXCLUSIVE MODE; "
        "SELECT notification_id, hash INTO last_pos, last_hash FROM {t} "
        "ORDER BY notification_id DESC LIMIT 1; "
        "IF last_pos IS NOT NULL AND last_hash IS NULL THEN "
        "RAISE EXCEPTION 'event % has no chain hash: run tally audit backfill', last_pos; "
        "END IF; "
        "last_pos := coalesce(last_pos, 0); last_hash := coalesce(last_hash, {g}::bytea); "
        "ELSE "
        "last_pos := split_part(head, ':', 1)::bigint; "
        "last_hash := decode(split_part(head, ':', 2), 'hex'); "
        "END IF; "
        "IF NEW.notification_id <= last_pos THEN "
        "RAISE EXCEPTION 'event % is not after the head of the chain (%)', "
        "NEW.notification_id, last_pos; "
        "END IF; "
        "NEW.hash := sha256(last_hash || {c}(NEW.notification_id, NEW.originator_id, "
        "NEW.originator_version, NEW.topic, NEW.state)); "
        "PERFORM set_config({s}, NEW.notification_id::text || ':' || encode(NEW.hash, 'hex'), "
        "true); "
        "RETURN NEW; "
        "END $body$"
    ).format(f=n.name("chain_row"), s=setting, t=n.events, g=genesis, c=n.name("canonical"))
    table = n.events
    return [
        sql.SQL("ALTER TABLE {t} ADD COLUMN IF NOT EXISTS hash bytea").format(t=table),
        canonical_sql,
        row,
        # Plain CREATE TRIGGER (any Postgres from 11): it runs only when the trigger is
        # not there, and the caller holds the schema's start-up lock.
        sql.SQL(
            "CREATE TRIGGER {name} BEFORE INSERT ON {t} FOR EACH ROW EXECUTE FUNCTION {f}()"
        ).format(name=sql.Identifier(n.row_trigger), t=table, f=n.name("chain_row")),
    ]


def installed(conn: psycopg.Connection[Any], names: ChainNames) -> bool:
    found = conn.execute(
        "SELECT count(*) FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid "
        "JOIN pg_namespace s ON s.oid = c.relnamespace "
        "WHERE s.nspname = %s AND c.relname = %s AND g.tgname = %s",
        (names.schema, names.table, names.row_trigger),
    ).fetchone()
    return found is not None and found[0] == 1


def install_chain(url: str, schema: str, table: str) -> int:
    """Put the chain on ``schema.table`` if it is not there, and hash the rows that have
    no hash yet (a store written before the chain existed). Returns how many rows were
    hashed. Idempotent; the caller holds the schema's start-up lock."""
    names = ChainNames(schema, table)
    with psycopg.connect(url, autocommit=True) as conn:
        if not installed(conn, names):
            with conn.transaction():
                for statement in _definitions(names):
                    conn.execute(statement)
        if not _head_unhashed(conn, names):
            return 0
        return backfill(conn, names)


def _head_unhashed(conn: psycopg.Connection[Any], names: ChainNames) -> bool:
    row = conn.execute(
        sql.SQL("SELECT hash IS NULL FROM {} ORDER BY notification_id DESC LIMIT 1").format(
            names.events
        )
    ).fetchone()
    return bool(row and row[0])


class BackfillRefused(Exception):
    """A hashed row after the rows to backfill does not extend their chain."""


def backfill(conn: psycopg.Connection[Any], names: ChainNames) -> int:
    """Hash every row that has none, from the first one without, in one transaction that
    holds the table's lock (writers wait; a one-off, when a store from before the chain
    is first opened). A row already hashed after that point must extend the chain, or
    nothing is written (BackfillRefused): backfill never rewrites an existing hash."""
    t = names.events
    with conn.transaction():
        conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(t))
        first = conn.execute(
            sql.SQL("SELECT min(notification_id) FROM {} WHERE hash IS NULL").format(t)
        ).fetchone()
        if first is None or first[0] is None:
            return 0
        before = conn.execute(
            sql.SQL(
                "SELECT hash FROM {} WHERE notification_id < %s "
                "ORDER BY notification_id DESC LIMIT 1"
            ).format(t),
            (first[0],),
        ).fetchone()
        previous = before[0] if before else GENESIS
        rows = _rows_from(conn, names, first[0])
        done = 0
        for chunk in _chunks(_hashes(rows, previous), BACKFILL_CHUNK):
            conn.execute(
                sql.SQL(
                    "UPDATE {} t SET hash = u.hash FROM unnest(%s::bigint[], %s::bytea[]) "
                    "AS u(pos, hash) WHERE t.notification_id = u.pos"
                ).format(t),
                ([p for p, _ in chunk], [h for _, h in chunk]),
            )
            done += len(chunk)
        return done


def _rows_from(
    conn: psycopg.Connection[Any], names: ChainNames, start: int
) -> Iterator[tuple[Any, ...]]:
    # A named (server-side) cursor: the rows stream, however long the log.
    with conn.cursor(name="tally_chain_backfill", binary=True) as cur:
        cur.itersize = BACKFILL_CHUNK
        cur.execute(
            sql.SQL(
                "SELECT notification_id, originator_id, originator_version, topic, state, hash "
                "FROM {} WHERE notification_id >= %s ORDER BY notification_id"
            ).format(names.events),
            (start,),
        )
        yield from cur


def _hashes(rows: Iterable[tuple[Any, ...]], previous: bytes) -> Iterator[tuple[int, bytes]]:
    """(position, hash) of each unhashed row, checking that hashed ones extend the chain."""
    for position, originator_id, version, topic, state, stored in rows:
        previous = link(previous, canonical(position, originator_id, version, topic, state))
        if stored is None:
            yield position, previous
        elif bytes(stored) != previous:
            raise BackfillRefused(
                f"event {position} has a hash that does not extend the chain before it; "
                "run tally audit verify"
            )


def _chunks(items: Iterable[tuple[int, bytes]], size: int) -> Iterator[list[tuple[int, bytes]]]:
    chunk: list[tuple[int, bytes]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass(frozen=True)
class Head:
    """The last event of the log: its position and hash (none for an empty log)."""

    position: int
    hash: bytes | None


def read_head(conn: psycopg.Connection[Any], schema: str, table: str) -> Head:
    row = conn.execute(
        sql.SQL(
            "SELECT notification_id, hash FROM {} ORDER BY notification_id DESC LIMIT 1"
        ).format(sql.Identifier(schema, table)),
        prepare=True,
    ).fetchone()
    if row is None:
        return Head(0, None)
    values = list(row.values()) if isinstance(row, dict) else list(row)
    return Head(int(values[0]), bytes(values[1]) if values[1] is not None else None)
