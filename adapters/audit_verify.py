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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from adapters.audit_chain import GENESIS

MAX_POSITION = 2**63 - 1
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER = struct.Struct("!11sii")  # signature, flags, header extension length
_INT16 = struct.Struct("!h")
_INT32 = struct.Struct("!i")
_POSITION = struct.Struct("!q")
# Offsets in a tuple: field count (2), then (4 + 8) position, (4 + 16) id, (4 + 8)
# version; the topic's length follows at 46.
_TOPIC_LENGTH_AT = 46
_COLUMNS = 6


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
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        _walk(_tuples(copy), previous, result, expect, progress)
        if result.failed_at is not None:
            _abandon(conn, copy)
    if expect is not None and result.ok and expect.position not in result.passed:
        result.failed_at = expect.position
        result.problem = "the log no longer holds the checkpoint's event"
    return result


def _abandon(conn: psycopg.Connection[Any], copy: Any) -> None:
    """Stop a COPY that is no longer needed (the rest of a long log is not read)."""
    conn.cancel_safe()
    try:
        for _ in copy:
            pass
    except psycopg.errors.QueryCanceled:
        pass


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


def _walk(
    tuples: Iterable[tuple[bytes, int, int]],
    previous: bytes,
    result: Verification,
    expect: Expected | None,
    progress: Callable[[int], None] | None,
) -> None:
    sha256 = hashlib.sha256
    checked = 0
    last_good: int | None = None
    for data, canonical_end, position in tuples:
        computed = sha256(previous + data[2:canonical_end]).digest()
        if data[canonical_end + 4 :] != computed or len(data) - canonical_end != 36:
            result.failed_at = position
            result.problem = _mismatch(previous)
            break
        if result.first is None:
            result.first = position
        previous = computed
        checked += 1
        last_good = position
        if expect is not None and position == expect.position:
            if computed != expect.hash:
                result.failed_at = position
                result.problem = "the event's hash differs from the checkpoint's"
                break
            result.passed.append(position)
        if progress is not None and not checked % 10_000:
            progress(position)
    result.checked, result.last = checked, last_good
    if checked:
        result.head_hash = previous


def _mismatch(previous: bytes) -> str:
    if not previous:
        return "the event before it has no hash"
    return (
        "its stored hash is not SHA-256(previous hash || its bytes): this event was "
        "changed or inserted, or the one before it was changed or removed"
    )


def _tuples(chunks: Iterable[Any]) -> Iterator[tuple[bytes, int, int]]:
    """(tuple bytes, end of its canonical bytes, position) for each tuple of a binary
    COPY stream. Postgres sends a tuple per message, so a chunk is usually exactly one
    tuple; the buffer handles any other split."""
    unpack_int32 = _INT32.unpack_from
    unpack_position = _POSITION.unpack_from
    buffer = b""
    header_done = False
    for chunk in chunks:
        buffer = bytes(chunk) if not buffer else buffer + bytes(chunk)
        offset = 0
        if not header_done:
            if len(buffer) < _HEADER.size:
                continue
            offset = _header_length(buffer)
            header_done = True
        size = len(buffer)
        while offset + 2 <= size:
            if _INT16.unpack_from(buffer, offset)[0] != _COLUMNS:
                offset = size  # the trailer (-1); the stream is read to its end
                break
            topic_at = offset + _TOPIC_LENGTH_AT
            if topic_at + 4 > size:
                break
            state_at = topic_at + 4 + max(unpack_int32(buffer, topic_at)[0], 0)
            if state_at + 4 > size:
                break
            hash_at = state_at + 4 + max(unpack_int32(buffer, state_at)[0], 0)
            if hash_at + 4 > size:
                break
            end = hash_at + 4 + max(unpack_int32(buffer, hash_at)[0], 0)
            if end > size:
                break
            data = buffer[offset:end] if offset or end != size else buffer
            yield data, hash_at - offset, unpack_position(buffer, offset + 6)[0]
            offset = end
        buffer = buffer[offset:]


def _header_length(buffer: bytes) -> int:
    signature, _, extension = _HEADER.unpack_from(buffer, 0)
    if signature != _SIGNATURE:
        raise ValueError("not a binary COPY stream")
    return _HEADER.size + int(extension)
