"""Paddle's limits, checked when a command arrives (a checkout line's name, the
currency) or met by deriving Tally's own texts (``fitted``): issue 18, item 7."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import ProviderLimitExceeded
from domain.limits import PADDLE_CURRENCIES, PADDLE_LINE_NAME_CHARS
from domain.provider_call_params import ChargeParams, CheckoutLine, CheckoutParams
from domain.provider_limits import check_call, fitted


def checkout(*names: str, currency: str = "EUR") -> CheckoutParams:
    return CheckoutParams(
        mode="item",
        lines=tuple(CheckoutLine(name, 1500, currency, 1) for name in names),
        success_url="https://shop.example/paid",
        cancel_url="https://shop.example/back",
        customer_ref=None,
    )


def charge(currency: str) -> ChargeParams:
    return ChargeParams(
        customer_ref="ctm_01hv6y1jedq4p1n0yqn5ba3ky4",
        payment_method_ref="paymtd_01hv8wrpb6bs6x6m4ph9qrr5yp",
        amount_minor=100,
        currency=currency,
    )


@pytest.mark.parametrize("name", ["E", "x" * 151])
def test_a_paddle_checkout_line_name_outside_two_to_150_characters_is_refused(name: str) -> None:
    with pytest.raises(ProviderLimitExceeded, match="2 to 150") as refused:
        check_call("paddle", checkout("Ebook", name))
    assert refused.value.context["field"] == "lines[1].name"


def test_names_within_paddles_limits_and_other_providers_pass() -> None:
    check_call("paddle", checkout("Eb", "x" * 150))
    check_call("stripe", checkout("E", "x" * 200))


@pytest.mark.parametrize("params", [checkout("Ebook", currency="KZT"), charge("KZT")])
def test_a_currency_paddle_does_not_sell_in_is_refused(
    params: CheckoutParams | ChargeParams,
) -> None:
    with pytest.raises(ProviderLimitExceeded, match="KZT"):
        check_call("paddle", params)
    check_call("yookassa", params)


def test_paddle_takes_its_31_currencies() -> None:
    assert len(PADDLE_CURRENCIES) == 31
    for currency in PADDLE_CURRENCIES:
        check_call("paddle", charge(currency.lower()))


@given(
    text=st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=600),
    low=st.integers(1, 10),
    extra=st.integers(0, 300),
)
def test_a_fitted_text_is_always_within_the_limits_and_keeps_its_start(
    text: str, low: int, extra: int
) -> None:
    high = low + extra + 1
    result = fitted(text, (low, high))
    assert low <= len(result) <= high
    kept = result.removesuffix("…").rstrip(".")
    assert text.strip().startswith(kept.rstrip())


def test_a_long_text_is_cut_with_an_ellipsis_and_a_short_one_padded() -> None:
    low, high = PADDLE_LINE_NAME_CHARS
    assert fitted("y" * 200, (low, high)) == "y" * (high - 1) + "…"
    assert fitted("y", (low, high)) == "y."
    assert fitted("  Ebook  ", (low, high)) == "Ebook"
