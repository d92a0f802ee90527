"""Array parameters written as Postgres array literals with one ``join`` each.

psycopg's list dumper finds each list's element type (scanning an integer list for its
largest value) and calls a dumper per element in Python: for the live worker's small
batches that was about a third of a drain's bytecodes (a dozen arrays of a few
elements each). A literal made here goes as a text parameter and is cast in the SQL
(``%s::int8[]``); Postgres parses it in C.

Only for values whose text needs no quoting in an array literal, which the helpers
assert or guarantee: integers, UUIDs, timezone-aware datetimes (``isoformat``: no space,
no comma, no brace) and names of Tally's own (catalogue types, read-model names).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

_NEEDS_QUOTING = frozenset('"\\{},') | frozenset(" \t\n\r\v\f")


def integers(values: Sequence[int]) -> str:
    return "{" + ",".join(map(str, values)) + "}"


def uuids(values: Sequence[UUID]) -> str:
    return "{" + ",".join(map(str, values)) + "}"


def times(values: Sequence[datetime]) -> str:
    """Aware datetimes (each keeps its offset; a naive one would be read in the
    session's time zone, as psycopg's own dumper has it cast)."""
    return "{" + ",".join(map(datetime.isoformat, values)) + "}"


def names(values: Sequence[str]) -> str:
    """Names of Tally's own: each is quoted, and may hold no quote, backslash, brace,
    comma or white space (a programmer error, asserted)."""
    assert not any(_NEEDS_QUOTING.intersection(v) for v in set(values)), values
    return '{"' + '","'.join(values) + '"}' if values else "{}"
