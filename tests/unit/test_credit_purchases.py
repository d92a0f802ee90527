"""Credits bought on an invoice (issue 13): granted once when the invoice is paid, never
after it is voided; the grant moves the invoice's revenue into the credits liability, so
revenue is earned once (when the credits are consumed). Pure domain: the
``CreditBalance`` aggregate, its events replayed, and the invoice's finalization entry
(``domain.invoice_entries``) summed with the balance's postings."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.credit_balance import CreditBalance
from domain.errors import InvalidTransition, LimitReached
from domain.invoice_entries import finalization_entry, payment_entry
from domain.limits import MAX_CREDIT_GRANTS

PROJECT = UUID("00000000-0000-0000-0000-0000000000cc")
CUSTOMER = UUID("00000000-0000-0000-0000-0000000000dd")
START = datetime(2030, 1, 1, tzinfo=UTC)
INVOICE = "9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a"


def bought(amount: int = 500) -> CreditBalance:
    balance = CreditBalance.open(PROJECT, CUSTOMER, "EUR")
    balance.invoice_purchase(
        invoice_id=INVOICE, grant_id="cg_x_1", amount=amount, now=START, priority=3
    )
    return balance


def entries(balance: CreditBalance) -> list[list[dict[str, Any]]]:
    return [e.entry for e in balance.collect_events() if getattr(e, "entry", None)]


def replayed(balance: CreditBalance) -> CreditBalance:
    events = balance.collect_events()
    copy: Any = None
    for e in events:
        copy = e.mutate(copy)
    assert isinstance(copy, CreditBalance)
    return copy


def test_an_invoiced_purchase_grants_nothing_until_paid_then_once() -> None:
    balance = bought()
    assert balance.total == 0
    assert balance.purchases[INVOICE]["status"] == "invoiced"
    grant = balance.grant_purchase(INVOICE, START + timedelta(hours=1))
    assert grant is not None
    assert grant["amount"] == 500
    assert grant["priority"] == 3
    assert grant["kind"] == "paid"
    assert grant["source"] == f"invoice:{INVOICE}"
    assert balance.grant_purchase(INVOICE, START + timedelta(hours=2)) is None
    assert balance.total == 500
    assert len(balance.grants) == 1
    assert balance.purchases[INVOICE]["status"] == "granted"


def test_a_canceled_purchase_is_never_granted() -> None:
    balance = bought()
    assert balance.cancel_purchase(INVOICE) is True
    assert balance.cancel_purchase(INVOICE) is False
    assert balance.grant_purchase(INVOICE, START) is None
    assert balance.total == 0
    assert balance.purchases[INVOICE]["status"] == "canceled"


def test_an_invoice_that_sells_no_credits_grants_nothing() -> None:
    balance = bought()
    assert balance.grant_purchase("another-invoice", START) is None
    assert balance.total == 0


def test_a_purchase_is_checked_like_a_grant_and_an_invoice_sells_once() -> None:
    balance = bought()
    with pytest.raises(InvalidTransition):
        balance.invoice_purchase(invoice_id=INVOICE, grant_id="cg_x_2", amount=1, now=START)
    for n in range(MAX_CREDIT_GRANTS):
        balance.grant(grant_id=f"g{n}", kind="promotional", amount=1, now=START)
    with pytest.raises(LimitReached):
        balance.invoice_purchase(invoice_id="other", grant_id="cg_x_3", amount=1, now=START)
    # The one invoiced before the cap was reached is still granted when paid.
    assert balance.grant_purchase(INVOICE, START) is not None


def test_a_purchased_grant_is_not_voided() -> None:
    balance = bought()
    balance.grant_purchase(INVOICE, START)
    with pytest.raises(InvalidTransition):
        balance.void("cg_x_1", START)


def test_replay_gives_the_same_grants_and_purchases() -> None:
    balance = bought()
    balance.grant_purchase(INVOICE, START)
    balance.consume("c1", 120, START + timedelta(days=1))
    copy = replayed(balance)
    assert copy.grants == balance.grants
    assert copy.purchases == balance.purchases
    assert copy.total == 380


@settings(max_examples=60, deadline=None)
@given(
    amount=st.integers(1, 10**9),
    spent=st.integers(0, 10**9),
    paid=st.booleans(),
    payments=st.integers(1, 3),
)
def test_revenue_is_earned_once_whatever_is_paid_and_spent(
    amount: int, spent: int, paid: bool, payments: int
) -> None:
    """The invoice's finalization (receivable -a, revenue +a), its payment, the grant
    (delivered ``payments`` times) and a consumption: every entry balances, revenue ends
    at what was consumed, and the credits account at what remains. Unpaid: voided, so
    nothing is left anywhere."""
    totals = {"total": amount, "net": amount, "tax_by_rate": {}}
    journal = [finalization_entry(UUID(int=7), totals, 0, 0)]
    balance = bought(amount)
    if paid:
        journal.append(payment_entry(UUID(int=7), "clearing:stripe", amount))
        for _ in range(payments):
            balance.grant_purchase(INVOICE, START)
        used = min(spent, amount)
        if used:
            balance.consume("c", used, START)
    else:
        used = 0
        journal.append([{"account": p["account"], "amount": -p["amount"]} for p in journal[0]])
        balance.cancel_purchase(INVOICE)
        assert balance.grant_purchase(INVOICE, START) is None
    journal += entries(balance)
    assert all(sum(p["amount"] for p in entry) == 0 for entry in journal)
    sums: Counter[str] = Counter()
    for entry in journal:
        for p in entry:
            sums[p["account"]] += p["amount"]
    assert sums["revenue"] == used
    assert sums[f"credits:{CUSTOMER}"] == (amount - used if paid else 0)
    assert sums[f"receivable:{UUID(int=7)}"] == 0
    assert sums["clearing:stripe"] == (-amount if paid else 0)
