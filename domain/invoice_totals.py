"""An invoice's arithmetic: discounts spread over lines, tax per line and rate, totals.

All amounts are integer minor units. For each line ``i``:

- ``discount_i``: its share of the invoice discount (``domain.discounts.allocate``), only
  on discountable lines;
- ``tax_i``: the sum over its rates of ``rate.tax_on(amount_i - discount_i)``;
- ``net_i``: ``amount_i - discount_i`` less any inclusive tax in it;
- ``gross_i = net_i + tax_i``: what the customer pays for the line.

So ``total = Σ gross_i = subtotal - discount + exclusive tax``, and it is never negative.

A line mirrored from a provider's invoice has its discount and tax ``given``
(``domain.invoice_lines``): they replace its share of the coupon and its rates' tax, and
its tax is owed on the account it names (``tax_by_rate``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from domain.discounts import allocate, discount_amount
from domain.limits import MAX_AMOUNT_MINOR
from domain.money import check_within_limit
from domain.tax import TaxRate

Line = dict[str, Any]


@dataclass
class Totals:
    subtotal: int = 0
    discount: int = 0
    tax: int = 0
    net: int = 0
    total: int = 0
    lines: list[dict[str, int]] = field(default_factory=list)
    tax_by_rate: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "subtotal": self.subtotal,
            "discount": self.discount,
            "tax": self.tax,
            "net": self.net,
            "total": self.total,
            "lines": self.lines,
            "tax_by_rate": self.tax_by_rate,
        }


def compute_totals(
    lines: list[Line],
    rates: dict[str, TaxRate],
    percent_off: Decimal | None = None,
    amount_off: int | None = None,
) -> Totals:
    """The totals of ``lines`` (each with ``amount``, ``discountable``, ``tax_rate_ids``);
    negative line amounts (credits such as proration) are not discounted."""
    weights = [
        max(0, int(li["amount"])) if li.get("discountable", True) and "given" not in li else 0
        for li in lines
    ]
    discount = 0
    if percent_off is not None or amount_off is not None:
        discount = discount_amount(sum(weights), percent_off, amount_off)
    shares = allocate(discount, weights)
    totals = Totals(discount=discount)
    for line, share in zip(lines, shares, strict=True):
        if "given" in line:
            _add_given(totals, line)
            continue
        amount = int(line["amount"])
        taxable = amount - share
        tax = inclusive = 0
        for rate_id in line.get("tax_rate_ids", []):
            rate = rates[rate_id]
            part = rate.tax_on(taxable)
            tax += part
            if rate.inclusive:
                inclusive += part
            totals.tax_by_rate[rate_id] = totals.tax_by_rate.get(rate_id, 0) + part
        net = taxable - inclusive
        totals.lines.append({"discount": share, "tax": tax, "net": net, "gross": net + tax})
        totals.subtotal += amount
        totals.tax += tax
        totals.net += net
    totals.total = totals.net + totals.tax
    return totals


def _add_given(totals: Totals, line: Line) -> None:
    """A line with the provider's own discount and tax, added as the provider billed it."""
    given = line["given"]
    amount, discount = int(line["amount"]), int(given["discount"])
    tax, inclusive = int(given["tax"]), int(given["inclusive_tax"])
    net = amount - discount - inclusive
    totals.lines.append({"discount": discount, "tax": tax, "net": net, "gross": net + tax})
    totals.subtotal += amount
    totals.discount += discount
    totals.tax += tax
    totals.net += net
    if tax:
        account = str(given["tax_account"])
        totals.tax_by_rate[account] = totals.tax_by_rate.get(account, 0) + tax


TOTAL_KEYS = ("subtotal", "discount", "tax", "net", "total")


def check_totals_within_limit(totals: dict[str, Any]) -> None:
    """Raise AmountTooLarge unless every amount of ``totals`` (as ``Totals.as_dict``), the
    invoice's and each line's, is within ±MAX_AMOUNT_MINOR: these are what the finalized
    invoice records and the journal and invoices read models store."""
    for key in TOTAL_KEYS:
        check_within_limit(int(totals[key]), f"the invoice's {key}")
    for n, line in enumerate(totals["lines"], start=1):
        for key, value in line.items():
            check_within_limit(int(value), f"line {n}'s {key}")
    for rate_id, value in totals["tax_by_rate"].items():
        check_within_limit(int(value), f"the tax of rate {rate_id}")


def check_lines_within_limit(
    lines: list[Line], rates: dict[str, dict[str, Any]], coupon: dict[str, Any] | None
) -> None:
    """``check_totals_within_limit`` of these lines' totals, computed only near the limit.

    Every amount of the totals is at most the bound below: a line's discount share is
    at most its amount plus one unit (largest remainder), each of its k rates (at most
    100 %) taxes at most that plus one unit of rounding, so its gross is at most
    (|amount| + 2)(1 + 2k), and the invoice's totals are sums of these. Far below the
    limit, as nearly every invoice is, adding a line then costs a sum, not the totals of
    every line."""
    bound = sum(
        (abs(int(line["amount"])) + 2) * (2 + 2 * len(line.get("tax_rate_ids", [])))
        + 2 * sum(abs(int(v)) for k, v in line.get("given", {}).items() if k != "tax_account")
        for line in lines
    )
    if bound > MAX_AMOUNT_MINOR:
        check_totals_within_limit(preview_totals(lines, rates, coupon))


def preview_totals(
    lines: list[Line], rates: dict[str, dict[str, Any]], coupon: dict[str, Any] | None
) -> dict[str, Any]:
    """The totals of an invoice's lines, its recorded tax rates and its coupon."""
    tax_rates = {
        rid: TaxRate(rid, Decimal(r["percentage"]), r["inclusive"], r["jurisdiction"])
        for rid, r in rates.items()
    }
    percent = (coupon or {}).get("percent_off")
    return compute_totals(
        lines,
        tax_rates,
        Decimal(percent) if percent is not None else None,
        (coupon or {}).get("amount_off"),
    ).as_dict()
