"""Money: integer minor units and an ISO 4217 currency, nothing else."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import CurrencyMismatch, InvalidAmount, UnknownCurrency
from domain.money import MAX_AMOUNT_MINOR, Money, check_amount, check_currency, currency_exponent


@pytest.mark.parametrize("amount", [12.5, 10.0, Decimal("1.00"), "1250", True, False, None, b"1"])
def test_money_refuses_anything_but_an_int_amount(amount: Any) -> None:
    with pytest.raises(InvalidAmount):
        Money(amount, "EUR")


@pytest.mark.parametrize("amount", [12.5, "100", True, None, Decimal(3)])
def test_check_amount_refuses_non_integers(amount: Any) -> None:
    with pytest.raises(InvalidAmount) as refused:
        check_amount(amount)
    assert refused.value.code == "invalid_amount"


@pytest.mark.parametrize("code", ["EURO", "eur", "E1R", "", "ABC", "ZZZ", "978", None, 978])
def test_unknown_currency_codes_are_refused(code: Any) -> None:
    with pytest.raises(UnknownCurrency) as refused:
        Money(100, code)
    assert refused.value.code == "unknown_currency"


@pytest.mark.parametrize("code", ["XAU", "XTS", "XXX"])
def test_currencies_without_minor_unit_cannot_hold_money(code: str) -> None:
    with pytest.raises(UnknownCurrency, match="no minor unit"):
        Money(1, code)
    with pytest.raises(UnknownCurrency):
        check_currency(code)


@pytest.mark.parametrize(("code", "exponent"), [("EUR", 2), ("USD", 2), ("JPY", 0), ("BHD", 3)])
def test_currency_exponent_comes_from_iso4217(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent
    assert Money(1, code).exponent == exponent


def test_check_currency_returns_a_valid_code_unchanged() -> None:
    assert check_currency("EUR") == "EUR"


def test_check_amount_accepts_positive_ints_up_to_the_bound() -> None:
    assert check_amount(1) == 1
    assert check_amount(MAX_AMOUNT_MINOR) == MAX_AMOUNT_MINOR


@pytest.mark.parametrize("amount", [0, -1, MAX_AMOUNT_MINOR + 1])
def test_check_amount_refuses_zero_negative_and_oversized(amount: int) -> None:
    with pytest.raises(InvalidAmount):
        check_amount(amount)


def test_zero_is_accepted_only_when_allowed() -> None:
    assert check_amount(0, allow_zero=True) == 0
    with pytest.raises(InvalidAmount):
        check_amount(-1, allow_zero=True)


def test_adding_and_subtracting_same_currency() -> None:
    assert Money(1999, "EUR") + Money(1, "EUR") == Money(2000, "EUR")
    assert Money(100, "EUR") - Money(250, "EUR") == Money(-150, "EUR")
    assert -Money(5, "JPY") == Money(-5, "JPY")


@pytest.mark.parametrize("op", ["add", "sub"])
def test_mixing_currencies_raises_currency_mismatch(op: str) -> None:
    eur, usd = Money(100, "EUR"), Money(100, "USD")
    with pytest.raises(CurrencyMismatch) as refused:
        _ = eur + usd if op == "add" else eur - usd
    assert refused.value.context == {"left": "EUR", "right": "USD"}


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(1250, "EUR"), "12.50 EUR"),
        (Money(5, "EUR"), "0.05 EUR"),
        (Money(-5, "EUR"), "-0.05 EUR"),
        (Money(0, "EUR"), "0.00 EUR"),
        (Money(1200, "JPY"), "1200 JPY"),
        (Money(-7, "JPY"), "-7 JPY"),
        (Money(1234, "BHD"), "1.234 BHD"),
        (Money(1, "BHD"), "0.001 BHD"),
    ],
)
def test_format_uses_the_currency_exponent(money: Money, text: str) -> None:
    assert money.format() == text


def test_money_is_immutable() -> None:
    money = Money(1, "EUR")
    with pytest.raises(AttributeError):
        money.amount = 2  # type: ignore[misc]


@given(
    a=st.integers(-(10**15), 10**15),
    b=st.integers(-(10**15), 10**15),
    code=st.sampled_from(["EUR", "JPY", "BHD"]),
)
def test_addition_is_exact_and_subtraction_undoes_it(a: int, b: int, code: str) -> None:
    total = Money(a, code) + Money(b, code)
    assert total.amount == a + b
    assert total - Money(b, code) == Money(a, code)


@given(amount=st.integers(-(10**15), 10**15), code=st.sampled_from(["EUR", "JPY", "BHD"]))
def test_format_round_trips_to_the_same_minor_units(amount: int, code: str) -> None:
    number, currency = Money(amount, code).format().split(" ")
    assert currency == code
    assert Decimal(number).scaleb(currency_exponent(code)) == amount


CODES = st.sampled_from(["EUR", "USD", "JPY", "BHD", "GBP"])


@given(amounts=st.lists(st.integers(-(10**15), 10**15), min_size=1, max_size=20), code=CODES)
def test_sums_in_one_currency_never_raise_and_are_exact(amounts: list[int], code: str) -> None:
    total = Money(0, code)
    for amount in amounts:
        total = total + Money(amount, code)
    assert total == Money(sum(amounts), code)


@given(amounts=st.lists(st.tuples(st.integers(-(10**15), 10**15), CODES), min_size=2, max_size=20))
def test_sums_that_mix_currencies_always_raise(amounts: list[tuple[int, str]]) -> None:
    monies = [Money(amount, code) for amount, code in amounts]
    mixed = len({m.currency for m in monies}) > 1
    try:
        total = monies[0]
        for money in monies[1:]:
            total = total - money if money.amount % 2 else total + money
    except CurrencyMismatch:
        assert mixed
    else:
        assert not mixed
        assert total.currency == monies[0].currency


def test_money_has_slots_and_no_instance_dict() -> None:
    # Money is made on every deposit: no per-instance dict, nothing but two fields.
    assert not hasattr(Money(1, "EUR"), "__dict__")
    assert Money.__slots__ == ("amount", "currency")


def test_results_of_arithmetic_are_ordinary_money() -> None:
    # They are made without __post_init__ (both sides were checked); nothing else differs.
    total = Money(1, "EUR") + Money(2, "EUR")
    assert (total, -total, total - Money(3, "EUR")) == (
        Money(3, "EUR"),
        Money(-3, "EUR"),
        Money(0, "EUR"),
    )
    assert hash(total) == hash(Money(3, "EUR"))
    assert repr(total) == "Money(amount=3, currency='EUR')"
    with pytest.raises(AttributeError):
        total.amount = 4  # type: ignore[misc]
