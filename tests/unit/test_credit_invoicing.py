"""Prepaid credits applied to a draft invoice's usage (issue 13, review finding 1): the
credits pay for usage after its coupon discount, never more than the invoice owes, so a
coupon and credits never make a negative invoice or pay twice for one unit; and a draft
that credits paid for is fixed where that amount depends on it (finding 2). Pure domain:
an ``Invoice`` and a ``CreditBalance``; hypothesis over coupons, taxes, other lines and
credits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.credit_balance import CreditBalance
from domain.credit_invoicing import apply_credits, credit_cap
from domain.errors import InvalidTransition
from domain.invoices import Invoice
from domain.money import Money
from domain.tax import TaxRate

PROJECT = UUID("00000000-0000-0000-0000-0000000000cc")
CUSTOMER = UUID("00000000-0000-0000-0000-0000000000dd")
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def invoice_with(usage: list[tuple[str, int]], rates: list[TaxRate] | None = None) -> Invoice:
    invoice = Invoice(
        project_id=PROJECT,
        customer_id=CUSTOMER,
        currency="EUR",
        subscription_id=None,
        period_start=None,
        period_end=None,
    )
    for n, (price_id, amount) in enumerate(usage):
        invoice.add_line(
            f"u{n}", "usage", "tokens", 1, amount, rates or [], amount=amount,
            usage={"price_id": price_id, "quantity": "1"},
        )  # fmt: skip
    return invoice


def credits(amount: int) -> CreditBalance:
    balance = CreditBalance.open(PROJECT, CUSTOMER, "EUR")
    balance.grant(grant_id="cg_1", kind="promotional", amount=amount, now=NOW)
    return balance


def test_a_half_off_coupon_and_credits_leave_nothing_to_pay_and_spend_only_the_half() -> None:
    # The reviewer's case: usage 1000, 50 % off, 5000 credits. Before the fix the credits
    # paid 1000 and the invoice's total was -500 (marked paid, 450 credit on top).
    invoice = invoice_with([("price_a", 1000)])
    invoice.apply_coupon("co_1", "50", None, "HALF")
    balance = credits(5000)
    assert apply_credits(invoice, balance, NOW) == 500
    assert invoice.preview()["total"] == 0
    assert balance.total == 4500


def test_a_fixed_amount_coupon_is_taken_before_the_credits() -> None:
    invoice = invoice_with([("price_a", 600), ("price_b", 400)])
    invoice.apply_coupon("co_1", None, Money(300, "EUR"), "OFF")
    balance = credits(5000)
    assert apply_credits(invoice, balance, NOW) == 700
    assert invoice.preview()["total"] == 0


def test_tax_rounded_per_line_cannot_take_the_total_below_zero() -> None:
    # Two usage lines of 1 at 40 % owe no tax each (0.4 rounds to 0); a credits line of
    # 2 would give back 1 of tax (0.8): the cap applies 1, not 2.
    vat = TaxRate("tr_vat", Decimal("40"), False, "XX")
    invoice = invoice_with([("price_a", 1), ("price_b", 1)], [vat])
    assert apply_credits(invoice, credits(100), NOW) == 1
    assert invoice.preview()["total"] >= 0


def test_a_negative_invoice_gets_no_credits() -> None:
    invoice = invoice_with([("price_a", 500)])
    invoice.add_line("p", "proration", "unused time", 1, -800, [])
    balance = credits(1000)
    assert apply_credits(invoice, balance, NOW) == 0
    assert balance.total == 1000


def test_a_draft_paid_by_credits_refuses_removals_coupons_and_credit_lines() -> None:
    invoice = invoice_with([("price_a", 1000)])
    invoice.add_line("s", "subscription", "plan", 1, 1000, [])
    assert apply_credits(invoice, credits(300), NOW) == 300
    for change in (
        lambda: invoice.remove_line("s"),
        lambda: invoice.remove_line("credits_applied"),
        lambda: invoice.apply_coupon("co_1", "50", None, "HALF"),
        lambda: invoice.add_line("p", "proration", "unused time", 1, -800, []),
    ):
        with pytest.raises(InvalidTransition):
            change()
    invoice.add_line("o", "one_time", "setup", 1, 200, [])  # a charge is still fine
    assert invoice.preview()["total"] == 1900
    assert apply_credits(invoice, credits(300), NOW) == 0  # never a second credits line


@st.composite
def drafts(draw: st.DrawFn) -> tuple[Invoice, int]:
    rates = draw(
        st.lists(
            st.builds(
                TaxRate,
                st.sampled_from(["tr_a", "tr_b"]),
                st.decimals(0, 100, places=2),
                st.booleans(),
                st.just("XX"),
            ),
            max_size=2,
            unique_by=lambda r: r.id,
        )
    )
    usage = draw(
        st.lists(st.tuples(st.sampled_from(["p1", "p2", "p3"]), st.integers(1, 10**6)),
                 min_size=1, max_size=6)
    )  # fmt: skip
    invoice = invoice_with(usage, rates)
    for n, amount in enumerate(draw(st.lists(st.integers(-(10**6), 10**6), max_size=3))):
        kind = "proration" if amount < 0 else "subscription"
        invoice.add_line(f"o{n}", kind, "other", 1, amount, rates)
    coupon = draw(st.one_of(st.none(), st.integers(1, 100), st.integers(101, 10**6)))
    if coupon is not None and coupon <= 100:
        invoice.apply_coupon("co", str(coupon), None, "P")
    elif coupon is not None:
        invoice.apply_coupon("co", None, Money(coupon, "EUR"), "A")
    return invoice, draw(st.integers(1, 10**7))


@settings(max_examples=300, deadline=None)
@given(drafts())
def test_for_any_coupon_taxes_and_credits_the_total_stays_at_or_above_zero(
    case: tuple[Invoice, int],
) -> None:
    invoice, granted = case
    before = invoice.preview()
    discounted_usage = sum(
        int(li["amount"]) - int(t["discount"])
        for li, t in zip(invoice.lines, before["lines"], strict=True)
        if li["kind"] == "usage"
    )
    balance = credits(granted)
    applied = apply_credits(invoice, balance, NOW)
    after = invoice.preview()
    assert applied <= discounted_usage
    assert applied == granted - balance.total  # what the line shows is what was consumed
    if before["total"] <= 0:
        assert applied == 0
    else:
        assert after["total"] >= 0
    assert after["discount"] == before["discount"]  # the credits line moves no share


@given(st.integers(0, 10**8), st.integers(0, 10**8), st.decimals(0, 100, places=3))
def test_the_cap_is_the_most_that_keeps_the_total(total: int, wanted: int, pct: Decimal) -> None:
    rates = [TaxRate("tr", pct, False, "XX")]
    cap = credit_cap(total, wanted, rates)
    assert 0 <= cap <= min(wanted, total)
    assert cap + rates[0].tax_on(cap) <= total
    if cap < min(wanted, total):
        assert cap + 1 + rates[0].tax_on(cap + 1) > total


def test_a_voided_invoice_gives_its_credits_back_to_where_they_came_from() -> None:
    """Review finding 2: voiding an invoice left the credits its line consumed spent (and
    their revenue booked). Each grant gets back what it gave: a live one as remaining,
    one past its expiry as breakage, a voided one as voided; once."""
    balance = CreditBalance.open(PROJECT, CUSTOMER, "EUR")
    soon = NOW + timedelta(days=1)
    balance.grant(grant_id="cg_soon", kind="promotional", amount=300, now=NOW, expires_at=soon)
    balance.grant(grant_id="cg_paid", kind="paid", amount=400, now=NOW, source="stripe")
    balance.grant(grant_id="cg_last", kind="promotional", amount=500, now=NOW)
    invoice = invoice_with([("price_a", 1000)])
    assert apply_credits(invoice, balance, NOW) == 1000
    later = NOW + timedelta(days=2)  # cg_soon has expired
    balance.void("cg_paid", later)
    balance.collect_events()
    assert balance.restore(str(invoice.id), later) == 1000
    grants = balance.grants
    assert (grants["cg_soon"]["expired"], grants["cg_soon"]["remaining"]) == (300, 0)
    assert (grants["cg_paid"]["voided"], grants["cg_paid"]["remaining"]) == (400, 0)
    assert (grants["cg_last"]["remaining"], grants["cg_last"]["consumed"]) == (500, 0)
    (restored,) = balance.collect_events()
    assert sorted((p["account"], p["amount"]) for p in restored.entry) == [
        ("breakage", 300), ("clearing:stripe", 400), (f"credits:{CUSTOMER}", 300),
        ("revenue", -1000),
    ]  # fmt: skip
    assert balance.restore(str(invoice.id), later) == 0
