"""The Cart takes its items as Money in its one currency. No I/O."""

from __future__ import annotations

from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.carts import Cart
from domain.errors import CurrencyMismatch
from domain.money import Money

PROJECT = UUID("00000000-0000-0000-0000-0000000000aa")


@given(
    amount=st.integers(1, 10**9),
    quantity=st.integers(1, 100),
    currency=st.sampled_from(["USD", "JPY", "BHD", "GBP"]),
)
def test_an_item_in_another_currency_is_refused_with_nothing_recorded(
    amount: int, quantity: int, currency: str
) -> None:
    cart = Cart.open(PROJECT, None, "EUR")
    cart.add_line("kept", Money(5, "EUR"), 2, None)
    before = (dict(cart.lines), cart.version, len(cart._pending_events))
    with pytest.raises(CurrencyMismatch) as refused:
        cart.add_line("other", Money(amount, currency), quantity, None)
    assert refused.value.context == {"expected": "EUR", "got": currency}
    assert (dict(cart.lines), cart.version, len(cart._pending_events)) == before
    cart.add_line("same", Money(amount, "EUR"), quantity, None)
    assert cart.total == 10 + amount * quantity
    assert cart.lines["li_2"]["unit_amount"] == amount
