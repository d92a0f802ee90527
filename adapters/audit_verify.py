"""``tally audit verify``: recompute the event log's hash chain and name the first event
that does not match (docs/audit.md).

The log is streamed with one binary ``COPY`` (no row objects, no per-row round trip), and
each event's canonical bytes are a slice of that stream as it arrives: a binary COPY
tuple of (position, id, version, topic, state) is exactly what the chain hashes
(adapters/audit_chain.py). So the Python work per event is reading three lengths, one
slice and one SHA-256 (C), and the hashes are recomputed here, independently of the
trigger that wrote them.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import pq, sql

from adapters.audit_chain import GENESIS

MAX_POSITION = 2**63 - 1
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER = struct.Struct("!11sii")  # signature, flags, header extension length
_INT16 = struct.Struct("!h")
_INT32 = struct.Struct("!i")
_POSITION = struct.Struct("!q")
# A row: its field count (2), then (4 + 8) position, (4 + 16) id, (4 + 8) version, the
# topic and the state (4 + their lengths), and (4 + 32) the hash.
_TRAILER_SIZE = 2  # the field count -1


@dataclass
class Verification:
    """What a verify found: ``failed_at`` is the first position that does not match."""

    first: int | None = None  # first position checked
    last: int | None = None  # last position checked
    checked: int = 0
    head_hash: bytes | None = None  # the recomputed hash at ``last``
    failed_at: int | None = None
    problem: str = ""
    passed: list[int] = field(default_factory=list)  # checkpoint positions passed through

    @property
    def ok(self) -> bool:
        return self.failed_at is None and not self.problem

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_position": self.first,
            "last_position": self.last,
            "head_hash": self.head_hash.hex() if self.head_hash else None,
            "failed_at": self.failed_at,
            "problem": self.problem or None,
        }

    def summary(self) -> str:
        if self.failed_at is not None:
            return f"chain broken at position {self.failed_at}: {self.problem}"
        if self.problem:
            return self.problem
        if not self.checked:
            return "no events in that range"
        return (
            f"chain intact: {self.checked} events, positions {self.first} to {self.last}, "
            f"head {self.head_hash.hex() if self.head_hash else '-'}"
        )


@dataclass(frozen=True)
class Expected:
    """A position the chain must pass through with this hash (a checkpoint)."""

    position: int
    hash: bytes


def verify(
    conn: psycopg.Connection[Any],
    schema: str,
    table: str,
    start: int = 1,
    stop: int = MAX_POSITION,
    expect: Expected | None = None,
    progress: Callable[[int], None] | None = None,
) -> Verification:
    """Recompute positions ``start..stop``. The chain starts from the stored hash of the
    event before ``start`` (from nothing when ``start`` is the log's beginning): a range
    proves itself against that hash, a whole log against nothing."""
    events = sql.Identifier(schema, table)
    previous = _hash_before(conn, events, start)
    result = Verification()
    copy_sql = sql.SQL(
        "COPY (SELECT notification_id, originator_id, originator_version, topic, state, hash "
        "FROM {} WHERE notification_id >= {} AND notification_id <= {} "
        "ORDER BY notification_id) TO STDOUT (FORMAT BINARY)"
    ).format(events, sql.Literal(start), sql.Literal(stop))
    _stream(conn, copy_sql.as_bytes(conn), previous, result, expect, progress)
    if expect is not None and result.ok and expect.position not in result.passed:
        result.failed_at = expect.position
        result.problem = "the log no longer holds the checkpoint's event"
    return result


def _stream(
    conn: psycopg.Connection[Any],
    statement: bytes,
    previous: bytes,
    result: Verification,
    expect: Expected | None,
    progress: Callable[[int], None] | None,
) -> None:
    """Run the COPY on libpq itself and walk its rows. psycopg's own COPY iteration goes
    through its wait machinery once per row, which cost as much CPU as the hashing."""
    pgconn = conn.pgconn
    with conn.lock:
        pgconn.send_query(statement)
        started = pgconn.get_result()
        if started is None or started.status != pq.ExecStatus.COPY_OUT:
            raise _error(conn, started)
        finished = _walk(pgconn.get_copy_data, previous, result, expect, progress)
        if not finished:
            # The rest of a long log is not needed: cancel the COPY and drain it.
            conn.cancel_safe()
            while pgconn.get_copy_data(0)[0] >= 0:
                pass
        _finish(conn, cancelled=not finished)


def _finish(conn: psycopg.Connection[Any], cancelled: bool) -> None:
    pgconn = conn.pgconn
    while (done := pgconn.get_result()) is not None:
        if done.status == pq.ExecStatus.COMMAND_OK:
            continue
        error = _error(conn, done)
        if not (cancelled and isinstance(error, psycopg.errors.QueryCanceled)):
            raise error


def _error(conn: psycopg.Connection[Any], found: pq.abc.PGresult | None) -> psycopg.Error:
    if found is None:
        return psycopg.OperationalError("the COPY of the event log did not start")
    return psycopg.errors.error_from_result(found, encoding=conn.info.encoding)


def _hash_before(conn: psycopg.Connection[Any], events: sql.Identifier, start: int) -> bytes:
    row = conn.execute(
        sql.SQL(
            "SELECT hash FROM {} WHERE notification_id < %s ORDER BY notification_id DESC LIMIT 1"
        ).format(events),
        (start,),
        binary=True,
    ).fetchone()
    if row is None:
        return GENESIS
    value = row[0] if not isinstance(row, dict) else row["hash"]
    return bytes(value) if value is not None else b""


# The usage chain (adapters/usage_chain.py) streams its own COPY through the same walk.
stream_chain = _stream


def _walk(
    get_copy_data: Callable[[int], tuple[int, Any]],
    previous: bytes,
    result: Verification,
    expect: Expected | None,
    progress: Callable[[int], None] | None,
) -> bool:
    """Hash each row onto the one before; False if it stopped at a mismatch.

    Postgres sends a binary COPY one row per message (the protocol says so), the first
    behind the stream's header and the trailer alone. A row is its canonical bytes after
    the 2-byte field count, then the hash's length (32) and the hash: its last 32 bytes.
    A row of any other shape (a NULL or odd-sized hash) cannot match, so it is reported
    at its position like any other mismatch."""
    sha256 = hashlib.sha256
    position_at = _POSITION.unpack_from
    expected_at, expected_hash = (expect.position, expect.hash) if expect else (-1, b"")
    checked, position, good, header = 0, 0, 0, True
    while (message := get_copy_data(0))[0] >= 0:
        data = message[1]
        if header:
            data, header = data[_header_length(data) :], False
        if len(data) <= _TRAILER_SIZE:  # the trailer (or a header with no row behind it)
            continue
        position = position_at(data, 6)[0]
        computed = sha256(previous + data[2:-36]).digest()
        if data[-32:] != computed:
            _failed(result, position, _mismatch(previous))
            break
        if position == expected_at:
            if computed != expected_hash:
                _failed(result, position, "the event's hash differs from the checkpoint's")
                break
            result.passed.append(position)
        if not checked:
            result.first = position
        previous, good = computed, position
        checked += 1
        if progress is not None and not checked % 10_000:
            progress(position)
    else:
        _passed(result, checked, good, previous)
        return True
    result.checked, result.last = checked, good if checked else None
    return False


def _failed(result: Verification, position: int, problem: str) -> None:
    result.failed_at, result.problem = position, problem


def _passed(result: Verification, checked: int, position: int, head: bytes) -> None:
    """The stream ended without a mismatch: every row up to ``position`` is intact."""
    result.checked = checked
    if checked:
        result.last, result.head_hash = position, head


def _mismatch(previous: bytes) -> str:
    if not previous:
        return "the event before it has no hash"
    return (
        "its stored hash is not SHA-256(previous hash || its bytes): this event was "
        "changed or inserted, or the one before it was changed or removed"
    )


def _header_length(buffer: bytes) -> int:
    signature, _, extension = _HEADER.unpack_from(buffer, 0)
    if signature != _SIGNATURE:
        raise ValueError("not a binary COPY stream")
    return _HEADER.size + int(extension)
