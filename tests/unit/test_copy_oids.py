"""COPY's column types named by oid (projections.base._oids): arrays by the array's oid,
not their element's, and a type psycopg does not know by its name."""

from __future__ import annotations

from projections.base import _oids

# Fixed by Postgres for its built-in types (pg_type.dat), the same in every database.
INT8, INT8_ARRAY = 20, 1016
UUID, UUID_ARRAY = 2950, 2951
TEXT, TEXT_ARRAY = 25, 1009


def test_scalars_and_arrays_have_their_own_oids() -> None:
    names = ("int8", "int8[]", "uuid", "uuid[]", "text", "text[]")
    assert _oids(names) == [INT8, INT8_ARRAY, UUID, UUID_ARRAY, TEXT, TEXT_ARRAY]


def test_an_unknown_type_stays_a_name() -> None:
    assert _oids(("int8", "tally_no_such_type", "uuid[]")) == [
        INT8,
        "tally_no_such_type",
        UUID_ARRAY,
    ]
