"""Read-model statements composed once, not once per batch.

A read model's statements are ``psycopg.sql`` compositions (quoted schema and table
names, column lists); psycopg turns one into the bytes it sends on every ``execute``
(``SQL.format`` parses the template, every ``Identifier`` is escaped through libpq).
Measured on this box that was 35 µs to compose a ``COPY`` statement and 39 µs to turn it
into bytes: for the live worker, whose batches hold a few deposits and run about ten
statements each, more than a tenth of its CPU per deposit.

- ``table(schema, name)``: the qualified table name, one shared object per pair (the
  same object each time, so it can be part of a key here).
- ``compiled(cur, key, build)``: the bytes of ``build()``, composed on the first call
  for ``key`` and kept. A key must name everything the statement is made of (the table
  objects, the column names, the template), so that two different statements never
  share one; psycopg then treats the bytes as it treats any query with placeholders.

Kept bytes do not depend on the connection: only ASCII statements are kept (schema names
are ASCII, see ``Settings.db_schema``), and every client encoding Postgres offers writes
ASCII as ASCII. A statement with any other character is composed on every call, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from functools import lru_cache
from typing import Any

from psycopg import Cursor, sql

MAX_KEPT = 4096  # many schemas (a test run) empty the cache rather than grow it


class TableName(sql.Composed):
    """``schema.name``, quoted: a ``Composed`` that can be a dictionary key (it hashes
    like the pair it names; psycopg's ``Composed`` compares by its parts)."""

    def __init__(self, schema: str, name: str) -> None:
        super().__init__([sql.Identifier(schema), sql.SQL("."), sql.Identifier(name)])
        self._pair = (schema, name)

    def __hash__(self) -> int:
        return hash(self._pair)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TableName) and self._pair == other._pair


@lru_cache(maxsize=MAX_KEPT)
def table(schema: str, name: str) -> TableName:
    """The table ``name`` of ``schema``, qualified and quoted for a query."""
    return TableName(schema, name)


_kept: dict[Hashable, bytes] = {}


def compiled(
    cur: Cursor[Any], key: Hashable, build: Callable[[], sql.Composed]
) -> bytes | sql.Composed:
    """What ``build()`` composes, as bytes kept under ``key`` (see the module's note)."""
    found = _kept.get(key)
    if found is not None:
        return found
    statement = build()
    data = statement.as_bytes(cur)
    if not data.isascii():
        return statement
    if len(_kept) >= MAX_KEPT:
        _kept.clear()
    _kept[key] = data
    return data
