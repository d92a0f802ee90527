"""domain.ids: uuid5 is the standard library's uuid5, value for value; uuid_text is str."""

from __future__ import annotations

import uuid
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import ids
from domain.ids import uuid5, uuid_text


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


@settings(max_examples=300, deadline=None)
@given(st.lists(st.uuids(), min_size=1, max_size=5))
def test_uuid_text_is_str_of_the_id_asked_again_or_not(ids: list[UUID]) -> None:
    for value in ids + ids:
        assert uuid_text(value) == str(value)


def test_uuid_text_keeps_a_bounded_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids, "MAX_TEXTS", 10)
    # Empty, whatever the tests run before it in this process named (the full suite had
    # 1,267 ids there, UUID(int=0) among them, so no call cleared it).
    monkeypatch.setattr(ids, "_TEXTS", {})
    for n in range(25):
        assert uuid_text(UUID(int=n)) == str(UUID(int=n))
        assert len(ids._TEXTS) <= 10
