"""The platform's fee on a creator's paid line (issue 13): half-even to a minor unit,
never more than the line, and the creator's net plus the fee is the line."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from projections.creator_earnings import platform_fee

percents = st.decimals(min_value=0, max_value=100, places=2).map(lambda d: str(d.normalize()))


@given(amount=st.integers(0, 10**15), percent=percents)
def test_the_fee_is_the_percent_of_the_line_rounded_half_even(amount: int, percent: str) -> None:
    fee = platform_fee(amount, percent)
    exact = Fraction(amount) * Fraction(Decimal(percent)) / 100
    assert abs(fee - exact) <= Fraction(1, 2)
    assert 0 <= fee <= amount
    assert round(exact) == fee  # Python's round is half-even on fractions too


def test_half_a_minor_unit_rounds_to_even() -> None:
    assert platform_fee(5, "10") == 0  # 0.5
    assert platform_fee(15, "10") == 2  # 1.5
    assert platform_fee(1000, "12.5") == 125
