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

Credits pay for usage amounts *after* a coupon's discount: each usage line is offered
at its amount less its share of the discount (``domain.invoice_totals``: the credits
line is not discountable, so adding it moves no share), and what is applied is capped so
that the credits line's gross (with its exclusive tax) never exceeds the invoice's total
before credits. So an invoice's total stays at or above zero and the credits consumed
are at most the discounted usage (a coupon and credits never pay twice for one unit;
tax rounded per line cannot push the total below zero either). An invoice whose total
before credits is zero or less (a larger proration credit) gets no credits: they would
only turn into the billing account's credit. An invoice that already holds
``MAX_LINES`` lines, or a credits line, gets no credits (they stay for the next invoice).
Once a draft has a credits line, its discount and usage are fixed
(``Invoice.check_credits_fixed``).
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
    """Each metered price's usage amount on ``invoice`` after its lines' shares of the
    discount, in the order its lines come."""
    shares = invoice.preview()["lines"]
    charges: dict[str, int] = {}
    for line, share in zip(invoice.lines, shares, strict=True):
        owed = int(line["amount"]) - int(share["discount"])
        if line["kind"] == "usage" and owed > 0:
            price_id = str(line["usage"]["price_id"])
            charges[price_id] = charges.get(price_id, 0) + owed
    return list(charges.items())


def _gross(amount: int, rates: list[TaxRate]) -> int:
    """What a credits line of ``amount`` takes off the total: the amount and its
    exclusive tax (an inclusive tax is inside the amount)."""
    return amount + sum(r.tax_on(amount) for r in rates if not r.inclusive)


def credit_cap(total: int, wanted: int, rates: list[TaxRate]) -> int:
    """The most, up to ``wanted``, a credits line with ``rates`` may apply without taking
    the invoice's ``total`` below zero (``_gross`` grows with the amount: bisect)."""
    low, high = 0, max(0, min(wanted, total))
    while low < high:
        mid = (low + high + 1) // 2
        if _gross(mid, rates) <= total:
            low = mid
        else:
            high = mid - 1
    return low


def _trim(charges: list[tuple[str, int]], cap: int) -> list[tuple[str, int]]:
    """The charges, in order, cut to add up to at most ``cap``."""
    trimmed: list[tuple[str, int]] = []
    for price_id, amount in charges:
        part = min(amount, cap)
        cap -= part
        trimmed.append((price_id, part))
    return trimmed


def apply_credits(invoice: Invoice, balance: CreditBalance | None, at: datetime) -> int:
    """Apply what ``balance`` can pay of the draft ``invoice``'s usage at ``at``; the
    amount applied (0: no line added)."""
    if balance is None or len(invoice.lines) >= MAX_LINES or has_credits(invoice):
        return 0
    if balance.currency != invoice.currency or balance.customer_id != invoice.customer_id:
        return 0
    charges = usage_charges(invoice)
    if not any(balance.available(at, price_id) for price_id, _ in charges):
        return 0
    rates = _usage_rates(invoice)
    wanted = sum(amount for _, amount in charges)
    cap = credit_cap(int(invoice.preview()["total"]), wanted, rates)
    charges = [(p, a) for p, a in _trim(charges, cap) if a > 0]
    applied = sum(amount for _, amount in balance.apply(str(invoice.id), charges, at))
    if applied:
        invoice.add_line(
            CREDITS_LINE, "credits", "Prepaid credits applied", 1, -applied, rates,
            discountable=False, paid_for=balance.paid_for(str(invoice.id)),
        )  # fmt: skip
    return applied


def has_credits(invoice: Invoice) -> bool:
    return any(line["kind"] == "credits" for line in invoice.lines)


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
