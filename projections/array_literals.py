"""Array parameters written as Postgres array literals with one ``join`` each.

psycopg's list dumper finds each list's element type (scanning an integer list for its
largest value) and calls a dumper per element in Python: for the live worker's small
batches that was about a third of a drain's bytecodes (a dozen arrays of a few
elements each). A literal made here goes as a text parameter and is cast in the SQL
(``%s::int8[]``); Postgres parses it in C.

Only for values whose text needs no quoting in an array literal, which the helpers
assert or guarantee: integers, UUIDs, timezone-aware datetimes (``isoformat``: no space,
no comma, no brace) and names of Tally's own (catalogue types, read-model names); and
any text, quoted and escaped (``texts``). The ``optional_`` helpers and ``texts`` write
``None`` as ``NULL``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import repeat
from operator import attrgetter
from uuid import UUID

_NEEDS_QUOTING = frozenset('"\\{},') | frozenset(" \t\n\r\v\f")


def integers(values: Sequence[int]) -> str:
    return "{" + ",".join(map(str, values)) + "}"


def optional_integers(values: Sequence[int | None]) -> str:
    return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"


def booleans(values: Sequence[bool]) -> str:
    return "{" + ",".join("t" if v else "f" for v in values) + "}"


def texts(values: Sequence[str | None]) -> str:
    """Any text: each element in double quotes, with its backslashes and double quotes
    escaped by a backslash (Postgres's array syntax); ``None`` as ``NULL``. Postgres text
    holds no NUL, and Tally's limits refuse one before it is stored."""
    return "{" + ",".join(map(_quoted, values)) + "}"


def _quoted(value: str | None) -> str:
    if value is None:
        return "NULL"
    if "\\" in value or '"' in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + value + '"'


_INT = attrgetter("int")


def uuids(values: Sequence[UUID]) -> str:
    """Each UUID as its 32 hex digits without hyphens, which Postgres reads as the same
    UUID: the whole list is one ``bytes.hex`` with a comma every 16 bytes, all in C.
    ``str`` of a UUID is a Python method (about 1.3 us each here, twelve times this;
    catch-up wrote about 100,000 of them per 100,000 events)."""
    # ``int.to_bytes(16)``: big-endian by default (Python 3.11 on), as a UUID's bytes are.
    return "{" + b"".join(map(int.to_bytes, map(_INT, values), repeat(16))).hex(",", 16) + "}"


def times(values: Sequence[datetime]) -> str:
    """Aware datetimes (each keeps its offset; a naive one would be read in the
    session's time zone, as psycopg's own dumper has it cast)."""
    return "{" + ",".join(map(datetime.isoformat, values)) + "}"


def optional_times(values: Sequence[datetime | None]) -> str:
    return "{" + ",".join("NULL" if v is None else v.isoformat() for v in values) + "}"


def names(values: Sequence[str]) -> str:
    """Names of Tally's own: each is quoted, and may hold no quote, backslash, brace,
    comma or white space (a programmer error, asserted)."""
    assert not any(_NEEDS_QUOTING.intersection(v) for v in set(values)), values
    return '{"' + '","'.join(values) + '"}' if values else "{}"
