"""Journal entry ids are ``uuid5`` ids: the fast computations give the same UUIDs as the
standard library, so ids written before them and after them agree."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from projections.decoding import uuid5_of
from projections.journal import ENTRY_NAMESPACE, entry_id, entry_id_bytes


@given(st.uuids(), st.integers(min_value=1, max_value=2**31 - 1))
def test_entry_id_is_the_standard_uuid5_of_the_aggregate_and_version(
    aggregate_id: uuid.UUID, version: int
) -> None:
    expected = uuid.uuid5(ENTRY_NAMESPACE, f"{aggregate_id}:{version}")
    got = entry_id(aggregate_id, version)
    assert got == expected
    assert (got.int, got.version, got.variant, str(got)) == (
        expected.int,
        5,
        uuid.RFC_4122,
        str(expected),
    )
    assert hash(got) == hash(expected)


@given(st.uuids(), st.integers(min_value=1, max_value=2**31 - 1))
def test_the_bytes_the_journal_copies_are_the_standard_uuid5s(
    aggregate_id: uuid.UUID, version: int
) -> None:
    """What ``Journal.apply`` writes as each entry's id (and its postings' ``entry_id``)."""
    expected = uuid.uuid5(ENTRY_NAMESPACE, f"{aggregate_id}:{version}")
    assert entry_id_bytes(aggregate_id, version) == expected.bytes


# Any text UTF-8 can encode (lone surrogates cannot be encoded, by either function).
@given(st.uuids(), st.text(st.characters(exclude_categories=("Cs",))))
def test_uuid5_of_any_namespace_and_name_matches_the_standard_library(
    namespace: uuid.UUID, name: str
) -> None:
    assert uuid5_of(namespace.bytes, name) == uuid.uuid5(namespace, name)
