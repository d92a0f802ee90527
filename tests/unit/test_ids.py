"""domain.ids.uuid5 is the standard library's uuid5, value for value."""

from __future__ import annotations

import uuid
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.ids import uuid5


@settings(max_examples=500, deadline=None)
@given(st.uuids(), st.text())
def test_the_same_id_as_the_standard_library(namespace: UUID, name: str) -> None:
    try:
        expected = uuid.uuid5(namespace, name)
    except UnicodeEncodeError:  # a lone surrogate cannot be hashed either way
        with pytest.raises(UnicodeEncodeError):
            uuid5(namespace, name)
        return
    got = uuid5(namespace, name)
    assert got == expected
    assert (str(got), hash(got), got.version, got.variant, got.is_safe) == (
        str(expected),
        hash(expected),
        expected.version,
        expected.variant,
        expected.is_safe,
    )
