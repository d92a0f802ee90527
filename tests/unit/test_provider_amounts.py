"""Amounts read from provider payloads are whole minor units or a refusal: an infinite,
NaN or unreadable amount is a ValueError (major units) or None (minor-unit text), never
an OverflowError or a crash on text Python's int() cannot read."""

from __future__ import annotations

import pytest

from adapters.providers.amounts import major_to_minor, minor_from_text


def test_major_units_convert_exactly() -> None:
    assert major_to_minor("100.00", "RUB") == 10_000
    assert major_to_minor("1e3", "JPY") == 1000


@pytest.mark.parametrize("value", ["Infinity", "-Infinity", "NaN", "sNaN", "1.001", "x"])
def test_major_units_that_are_no_amount_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        major_to_minor(value, "RUB")


def test_minor_unit_text_reads_ascii_digits() -> None:
    assert minor_from_text("1500") == 1500
    assert minor_from_text(1500) == 1500


@pytest.mark.parametrize("value", ["\u00b2", "\u0661\u0662", "9" * 5000, "-5", "", True, 1.5])
def test_minor_unit_text_that_is_no_amount_is_none(value: object) -> None:
    assert minor_from_text(value) is None
