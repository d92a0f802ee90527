"""Prepaid credits applied to an invoice's usage (issue 13): one ``credits`` line.

When a renewal (or the preview of one) has drafted an invoice with usage lines, the
customer's credits pay for them: the usage amount of each metered price on the invoice,
in the order its lines come, is offered to the customer's ``CreditBalance`` in the
invoice's currency (``CreditBalance.apply``: each price takes what the grants that pay
for it hold, in the consumption order, recording one ``Consumed`` per price with the
invoice's id), and the invoice gets one line of kind ``credits`` for the whole amount
applied, negative, never discounted, with the tax rates of its usage lines (a credit
line carries the same tax with the opposite sign). So the invoice shows "credits
applied", its total is what the credits did not cover, and the log holds what was
consumed: a replay gives the same numbers and never reads the grants again.

Credits pay for usage amounts before a coupon's discount (a coupon discounts the
discountable lines; the credits line is not one). An invoice that already holds
``MAX_LINES`` lines gets no credits (they stay for the next invoice).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from domain.credit_balance import CreditBalance
from domain.invoice_lines import MAX_LINES
from domain.invoices import Invoice
from domain.tax import TaxRate

CREDITS_LINE = "credits_applied"


def usage_charges(invoice: Invoice) -> list[tuple[str, int]]:
    """Each metered price's usage amount on ``invoice``, in the order its lines come."""
    charges: dict[str, int] = {}
    for line in invoice.lines:
        if line["kind"] == "usage" and int(line["amount"]) > 0:
            price_id = str(line["usage"]["price_id"])
            charges[price_id] = charges.get(price_id, 0) + int(line["amount"])
    return list(charges.items())


def apply_credits(invoice: Invoice, balance: CreditBalance | None, at: datetime) -> int:
    """Apply what ``balance`` can pay of the draft ``invoice``'s usage at ``at``; the
    amount applied (0: no line added)."""
    charges = usage_charges(invoice)
    if balance is None or not charges or len(invoice.lines) >= MAX_LINES:
        return 0
    if balance.currency != invoice.currency or balance.customer_id != invoice.customer_id:
        return 0
    if not any(balance.available(at, price_id) for price_id, _ in charges):
        return 0
    applied = sum(amount for _, amount in balance.apply(str(invoice.id), charges, at))
    if applied:
        invoice.add_line(
            CREDITS_LINE,
            "credits",
            "Prepaid credits applied",
            1,
            -applied,
            _usage_rates(invoice),
            discountable=False,
        )
    return applied


def _usage_rates(invoice: Invoice) -> list[TaxRate]:
    """The tax rates of the invoice's first usage line (a renewal gives every usage
    line the same ones), rebuilt from the records the invoice keeps."""
    usage = next(line for line in invoice.lines if line["kind"] == "usage")
    return [
        TaxRate(
            id=rate_id,
            percentage=Decimal(invoice.rates[rate_id]["percentage"]),
            inclusive=bool(invoice.rates[rate_id]["inclusive"]),
            jurisdiction=str(invoice.rates[rate_id]["jurisdiction"]),
        )
        for rate_id in usage["tax_rate_ids"]
    ]
