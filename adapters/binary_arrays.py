"""Arrays already in Postgres's binary format (``array_send``), built with one ``join``
each, for the command bus's writer (``adapters/event_writer.py``): psycopg's own list
dumper looks up and calls a dumper per element in Python, which was about half of the
committer thread's time."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import psycopg
from psycopg import pq
from psycopg.adapt import Dumper


class BinaryArray:
    """A one-dimensional array already in Postgres's binary format (``array_send``)."""

    __slots__ = ("data",)

    # The array type's oid and its elements'; set by each subclass.
    oid = 0
    element_oid = 0

    def __init__(self, data: bytes) -> None:
        self.data = data


# Built-in type oids (pg_type): fixed, so no catalog lookup is needed.
class UUIDArray(BinaryArray):
    oid, element_oid = 2951, 2950


class BigintArray(BinaryArray):
    oid, element_oid = 1016, 20


class TextArray(BinaryArray):
    oid, element_oid = 1009, 25


class ByteaArray(BinaryArray):
    oid, element_oid = 1001, 17


_HEADER = struct.Struct("!iiiii")  # dimensions (1), has nulls (0), element oid, length, from 1
_EMPTY = struct.Struct("!iii")  # an empty array has no dimensions
_LENGTH = struct.Struct("!i")
_BIGINT = struct.Struct("!iq")
# A uuid element is its length (16) then its 16 bytes: one 20-byte integer.
_UUID_LENGTH = 16 << 128


def _array(kind: type[BinaryArray], count: int, body: bytes) -> BinaryArray:
    if not count:
        return kind(_EMPTY.pack(0, 0, kind.element_oid))
    return kind(_HEADER.pack(1, 0, kind.element_oid, count, 1) + body)


def uuid_array(values: Sequence[UUID | str]) -> BinaryArray:
    ints = [(v if type(v) is UUID else UUID(str(v))).int for v in values]
    return _array(UUIDArray, len(ints), b"".join([(_UUID_LENGTH | i).to_bytes(20) for i in ints]))


def bigint_array(values: Sequence[int]) -> BinaryArray:
    pack = _BIGINT.pack
    return _array(BigintArray, len(values), b"".join([pack(8, v) for v in values]))


def _varlena_array(kind: type[BinaryArray], values: Sequence[bytes]) -> BinaryArray:
    pack = _LENGTH.pack
    return _array(kind, len(values), b"".join([pack(len(v)) + v for v in values]))


def text_array(values: Sequence[str]) -> BinaryArray:
    return _varlena_array(TextArray, [v.encode() for v in values])


def bytea_array(values: Sequence[bytes]) -> BinaryArray:
    return _varlena_array(ByteaArray, values)


class _BinaryArrayDumper(Dumper):
    format = pq.Format.BINARY

    def dump(self, obj: BinaryArray) -> bytes:
        return obj.data


# One dumper class per array type, since a dumper's oid is a class attribute.
_DUMPERS = [
    (kind, type(f"{kind.__name__}Dumper", (_BinaryArrayDumper,), {"oid": kind.oid}))
    for kind in (UUIDArray, BigintArray, TextArray, ByteaArray)
]


def register_dumpers(conn: psycopg.Connection[Any]) -> None:
    """Teach a connection to send ``BinaryArray`` values (types of Tally's own, so
    nothing else the pool's later users send is affected)."""
    for kind, dumper in _DUMPERS:
        conn.adapters.register_dumper(kind, dumper)
