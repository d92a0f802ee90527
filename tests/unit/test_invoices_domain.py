"""Invoice arithmetic and lifecycle: hand-computed tax examples, hypothesis properties
(totals equal the sum of lines, discounts never make a total negative, every entry
balances), numbering and the transition table."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.coupons import Coupon, PromotionCode
from domain.discounts import allocate
from domain.errors import (
    CouponUnavailable,
    CreditExceedsPaid,
    CurrencyMismatch,
    InvalidTransition,
    ValidationFailed,
)
from domain.invoice_totals import compute_totals
from domain.invoices import Invoice, InvoiceEmpty, InvoiceSequence
from domain.money import Money
from domain.tax import TaxRate, check_percentage

NOW = datetime(2027, 3, 1, tzinfo=UTC)
VAT = TaxRate("vat", Decimal("20"), inclusive=False, jurisdiction="FR")
VAT_INCL = TaxRate("vat_incl", Decimal("20"), inclusive=True, jurisdiction="FR")
ODD = TaxRate("odd", Decimal("7.25"), inclusive=False, jurisdiction="US-CA")


def test_exclusive_tax_hand_computed() -> None:
    assert VAT.tax_on(1000) == 200
    assert ODD.tax_on(1000) == 72  # 72.5 -> 72 (half even)
    assert ODD.tax_on(3000) == 218  # 217.5 -> 218 (half even)


def test_inclusive_tax_hand_computed() -> None:
    # 1200 incl. 20%: net 1000, tax 200; 999 incl. 20%: net 832.5 -> 832, tax 167.
    assert VAT_INCL.tax_on(1200) == 200
    assert VAT_INCL.tax_on(999) == 167


def test_credit_lines_give_back_their_tax() -> None:
    assert VAT.tax_on(-1000) == -200


def test_tax_rate_outside_0_to_100_is_refused() -> None:
    for bad in ("-1", "100.01", "abc", "NaN"):
        with pytest.raises(ValidationFailed):
            check_percentage(bad)
    assert check_percentage("100") == Decimal(100)


def test_percent_coupon_spreads_over_lines_before_tax() -> None:
    lines = [
        {"amount": 1000, "tax_rate_ids": ["vat"]},
        {"amount": 3000, "tax_rate_ids": ["vat"]},
    ]
    totals = compute_totals(lines, {"vat": VAT}, percent_off=Decimal(10))
    assert totals.discount == 400
    assert [line["discount"] for line in totals.lines] == [100, 300]
    assert totals.tax == 720  # 20% of 3600
    assert totals.total == 4320


def test_fixed_coupon_larger_than_subtotal_takes_only_the_subtotal() -> None:
    totals = compute_totals([{"amount": 500, "tax_rate_ids": []}], {}, amount_off=2000)
    assert totals.discount == 500
    assert totals.total == 0


lines_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "amount": st.integers(0, 10**7),
            "discountable": st.booleans(),
            "tax_rate_ids": st.lists(st.sampled_from(["vat", "vat_incl", "odd"]), max_size=1),
        }
    ),
    min_size=1,
    max_size=8,
)
RATES = {"vat": VAT, "vat_incl": VAT_INCL, "odd": ODD}


@settings(max_examples=300, deadline=None)
@given(
    lines_strategy,
    st.one_of(st.none(), st.decimals(0, 100, places=2)),
    st.one_of(st.none(), st.integers(0, 10**8)),
)
def test_totals_equal_the_sum_of_lines_and_discounts_never_go_negative(
    lines: list[dict[str, Any]], percent: Decimal | None, amount_off: int | None
) -> None:
    if percent is not None and amount_off is not None:
        amount_off = None
    totals = compute_totals(lines, RATES, percent, amount_off)
    assert totals.subtotal == sum(line["amount"] for line in lines)
    assert totals.discount == sum(line["discount"] for line in totals.lines)
    assert totals.total == sum(line["gross"] for line in totals.lines)
    assert totals.tax == sum(totals.tax_by_rate.values())
    assert totals.total >= 0
    assert all(line["gross"] >= 0 for line in totals.lines)
    assert 0 <= totals.discount <= totals.subtotal


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**6), min_size=1, max_size=10))
def test_allocation_adds_up_exactly(total: int, weights: list[int]) -> None:
    parts = allocate(total, weights)
    if sum(weights):
        assert sum(parts) == total
        assert all(p >= 0 for p in parts)


def _invoice(*amounts: int) -> Invoice:
    invoice = Invoice(
        project_id=uuid4(),
        customer_id=uuid4(),
        currency="EUR",
        subscription_id=None,
        period_start=None,
        period_end=None,
    )
    for i, amount in enumerate(amounts):
        invoice.add_line(f"l{i}", "one_time", "item", 1, amount, [VAT])
    return invoice


def _sequence() -> InvoiceSequence:
    return InvoiceSequence(project_id=uuid4(), prefix="ACME")


def _balanced(invoice: Invoice) -> None:
    for entry in invoice.entries:
        assert sum(p["amount"] for p in entry) == 0


def test_finalize_numbers_gaplessly_and_posts_a_balanced_entry() -> None:
    seq = _sequence()
    first, second = _invoice(1000), _invoice(2000)
    first.finalize(seq, 0, NOW)
    second.finalize(seq, 0, NOW)
    assert (first.number, second.number) == ("ACME-2027-000001", "ACME-2027-000002")
    assert first.total == 1200
    _balanced(first)


def test_finalize_applies_credit_balance_before_anything_is_charged() -> None:
    invoice = _invoice(1000)
    used = invoice.finalize(_sequence(), 500, NOW)
    assert used == 500
    assert invoice.amount_due == 700
    _balanced(invoice)


def test_empty_invoice_cannot_be_finalized_and_open_invoice_cannot_be_edited() -> None:
    with pytest.raises(InvoiceEmpty):
        _invoice().finalize(_sequence(), 0, NOW)
    invoice = _invoice(100)
    invoice.finalize(_sequence(), 0, NOW)
    with pytest.raises(InvalidTransition, match="open"):
        invoice.add_line("x", "one_time", "late", 1, 100, [])


def test_payment_settles_and_void_reverses_finalization() -> None:
    invoice = _invoice(1000)
    invoice.finalize(_sequence(), 0, NOW)
    invoice.pay(400, "wallet:w", "p1", NOW)
    assert invoice.status == "open"
    invoice.pay(800, "wallet:w", "p2", NOW)
    assert invoice.status == "paid"
    with pytest.raises(InvalidTransition):
        invoice.void(NOW)
    other = _invoice(1000)
    other.finalize(_sequence(), 0, NOW)
    other.void(NOW)
    assert other.status == "void"
    with pytest.raises(InvalidTransition, match="void"):
        other.pay(100, "wallet:w", "p", NOW)
    balances: dict[str, int] = defaultdict(int)
    for entry in other.entries:
        for posting in entry:
            balances[posting["account"]] += posting["amount"]
    assert all(v == 0 for v in balances.values())


def test_uncollectible_invoice_can_still_be_paid() -> None:
    invoice = _invoice(1000)
    invoice.finalize(_sequence(), 0, NOW)
    invoice.mark_uncollectible(NOW)
    invoice.pay(1200, "clearing:stub", "late", NOW)
    assert invoice.status == "paid"


def _account_totals(invoice: Invoice) -> dict[str, int]:
    balances: dict[str, int] = defaultdict(int)
    for entry in invoice.entries:
        assert sum(p["amount"] for p in entry) == 0
        for posting in entry:
            balances[posting["account"]] += posting["amount"]
    return balances


def test_full_refund_to_credit_balance_reverses_revenue_and_tax() -> None:
    invoice = _invoice(1000)
    invoice.finalize(_sequence(), 0, NOW)
    invoice.pay(1200, "wallet:w", "p", NOW)
    invoice.credit("cn1", 1200, "duplicate", "credit_balance", "", NOW)
    balances = _account_totals(invoice)
    assert balances["revenue"] == 0
    assert balances["tax_payable:vat"] == 0
    assert balances[f"customer_credit:{invoice.customer_id}"] == 1200
    assert balances["wallet:w"] == -1200


def test_credit_more_than_was_paid_is_refused_and_records_nothing() -> None:
    invoice = _invoice(1000)
    invoice.finalize(_sequence(), 0, NOW)
    invoice.pay(500, "wallet:w", "p", NOW)
    version = invoice.version
    with pytest.raises(CreditExceedsPaid):
        invoice.credit("cn", 600, "too much", "original_payment", "wallet:w", NOW)
    with pytest.raises(CreditExceedsPaid):
        invoice.credit("cn", 800, "more than owed", "none", "", NOW)
    assert invoice.version == version
    invoice.credit("cn", 700, "waive the rest", "none", "", NOW)
    assert invoice.amount_remaining == 0


def test_coupon_past_its_redemption_limit_or_expiry_is_refused() -> None:
    coupon = Coupon.define(
        project_id=uuid4(), code="ONCE", amount_off=500, currency="EUR", max_redemptions=1
    )
    coupon.redeem(NOW)
    with pytest.raises(CouponUnavailable, match="limit"):
        coupon.redeem(NOW)
    promo = PromotionCode.define(uuid4(), "spring", coupon.id, expires_at=NOW)
    with pytest.raises(CouponUnavailable, match="expired"):
        promo.redeem(NOW)
    with pytest.raises(ValidationFailed):
        Coupon.define(project_id=uuid4(), code="BAD", percent_off="150")
    with pytest.raises(ValidationFailed):
        Coupon.define(project_id=uuid4(), code="BAD", amount_off=100)  # no currency


@given(amount_off=st.integers(1, 10**6), currency=st.sampled_from(["USD", "JPY", "GBP"]))
def test_an_amount_off_in_another_currency_is_refused_with_nothing_recorded(
    amount_off: int, currency: str
) -> None:
    invoice = _invoice(1000)  # in EUR
    coupon = Coupon.define(project_id=uuid4(), code="OFF", amount_off=amount_off, currency=currency)
    pending = len(invoice._pending_events)
    with pytest.raises(CurrencyMismatch) as refused:
        invoice.apply_coupon(str(coupon.id), None, coupon.money_off, coupon.code)
    assert refused.value.context == {"coupon_currency": currency, "currency": "EUR"}
    assert (invoice.coupon, len(invoice._pending_events)) == (None, pending)
    # In the invoice's currency it applies, and the event keeps the bare amount.
    invoice.apply_coupon(str(coupon.id), None, Money(amount_off, "EUR"), coupon.code)
    applied = invoice._pending_events[-1]
    assert applied.coupon["amount_off"] == amount_off  # type: ignore[attr-defined]
    assert invoice.preview()["discount"] == min(amount_off, 1000)
