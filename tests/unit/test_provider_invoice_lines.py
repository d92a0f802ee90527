"""A provider's invoice line as it billed it (issue 18): what Stripe's line says it took
off (``discount_amounts``) and taxed (``taxes`` at current API versions, ``tax_amounts``
before), read by the adapter; and an invoice's totals built from those given amounts
rather than from Tally's coupon and rates (``domain/invoice_totals.py``)."""

from __future__ import annotations

from uuid import uuid4

import pytest

from adapters.providers.stripe_subscriptions import line_from
from domain.errors import ValidationFailed
from domain.invoices import Invoice
from tests.unit.test_provider_stripe_webhooks import resource


def stripe_line(**fields: object) -> dict[str, object]:
    return {**resource("invoice")["lines"]["data"][0], **fields}


def test_stripe_discounts_and_taxes_are_read_from_the_line() -> None:
    line = line_from(
        stripe_line(
            amount=1190,
            discount_amounts=[
                {"amount": 100, "discount": "di_1"},
                {"amount": 50, "discount": "di_2"},
            ],
            taxes=[
                {"amount": 190, "tax_behavior": "inclusive"},
                {"amount": 30, "tax_behavior": "exclusive"},
            ],
        )
    )
    assert (line.amount_minor, line.discount_minor, line.tax_minor, line.inclusive_tax_minor) == (
        1190,
        150,
        220,
        190,
    )
    # The fixture's line is a proration (its parent says so).
    assert line.proration is True


def test_older_api_versions_tax_amounts_are_read_too() -> None:
    line = line_from(
        stripe_line(taxes=None, tax_amounts=[{"amount": 21, "inclusive": False}], parent=None)
    )
    assert (line.tax_minor, line.inclusive_tax_minor, line.proration) == (21, 0, False)


def draft() -> Invoice:
    return Invoice(uuid4(), uuid4(), "EUR", None, None, None)


def test_given_discount_and_tax_make_the_totals() -> None:
    invoice = draft()
    given = {"discount": 100, "tax": 127, "inclusive_tax": 0, "tax_account": "stripe"}
    invoice.add_line("stripe_1", "proration", "Pro, monthly", 2, 366, [], amount=733, given=given)
    inclusive = {"discount": 0, "tax": 19, "inclusive_tax": 19, "tax_account": "stripe"}
    invoice.add_line("stripe_2", "subscription", "Seat", 1, 119, [], given=inclusive)
    totals = invoice.preview()
    assert {k: totals[k] for k in ("subtotal", "discount", "tax", "net", "total")} == {
        "subtotal": 852,
        "discount": 100,
        "tax": 146,
        "net": 733,
        "total": 879,
    }
    assert totals["tax_by_rate"] == {"stripe": 146}
    assert totals["lines"][0] == {"discount": 100, "tax": 127, "net": 633, "gross": 760}


@pytest.mark.parametrize(
    "given",
    [
        {"discount": -1, "tax": 0, "inclusive_tax": 0, "tax_account": "stripe"},
        {"discount": 0, "tax": 10, "inclusive_tax": 11, "tax_account": "stripe"},
        {"discount": 0, "tax": -10, "inclusive_tax": 5, "tax_account": "stripe"},
        {"discount": 0, "tax": 1.5, "inclusive_tax": 0, "tax_account": "stripe"},
        {"discount": 0, "tax": 10, "inclusive_tax": 0, "tax_account": ""},
    ],
)
def test_given_amounts_that_do_not_make_sense_are_refused(given: dict[str, object]) -> None:
    with pytest.raises(ValidationFailed):
        draft().add_line("stripe_1", "subscription", "Seat", 1, 100, [], given=given)
