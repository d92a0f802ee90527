"""An invoice's lines: what a line may be, and the line and tax rate records it keeps.

Kinds: ``subscription`` (a period of a subscription item), ``proration`` (a credit or
charge for a plan change; the only kind that may be negative, and never discounted),
``one_time`` (an order or a charge), ``usage`` (a metered price's usage over a period:
``domain.usage_rating``; its ``usage`` field records the quantity it billed), ``credits``
(prepaid credits applied to the invoice's usage, negative, never discounted:
``domain.credit_invoicing``; its ``paid_for`` lists, per price, what the credits paid
and how much of it promotional credits gave: creators' earnings deduct that part).
A line's ``amount`` is ``quantity * unit_amount`` unless given (tiered prices); a tiered
line keeps how its amount was reached (``tiers``: ``domain.price_tiers.tier_breakdown``),
so a document can show parts that add up instead of a rounded unit price.

A line mirrored from a provider's invoice (a subscription the provider runs) carries
what the provider took off and taxed on it (``given``: ``discount``, ``tax``, the part of
that tax included in the amount ``inclusive_tax``, and ``tax_account``, the
``tax_payable:`` account it is owed on): the invoice's totals use those amounts instead
of Tally's coupons and rates, so the mirror says what the provider billed, line by line.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.errors import AlreadyExists, LimitReached, ValidationFailed
from domain.limits import MAX_QUANTITY
from domain.money import check_amount, check_within_limit
from domain.tax import TaxRate

LINE_KINDS = ("subscription", "proration", "one_time", "usage", "credits")
# The kinds that may credit (a negative amount); they are never discounted.
CREDITING = ("proration", "credits")
MAX_LINES = 500
Line = dict[str, Any]


def check_line(lines: list[Line], line_id: str, kind: str, quantity: int, unit_amount: int) -> None:
    if kind not in LINE_KINDS:
        raise ValidationFailed(f"line kind must be one of {', '.join(LINE_KINDS)}")
    if len(lines) >= MAX_LINES:
        raise LimitReached(f"an invoice has at most {MAX_LINES} lines", limit=MAX_LINES)
    if any(li["id"] == line_id for li in lines):
        raise AlreadyExists(f"line {line_id} already exists", id=line_id)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise ValidationFailed("quantity must be a whole number greater than zero")
    if quantity > MAX_QUANTITY:
        raise ValidationFailed(f"quantity must be at most {MAX_QUANTITY}", quantity=quantity)
    if kind not in CREDITING:  # only proration and credits lines may credit
        check_amount(unit_amount, allow_zero=True)
    else:
        check_within_limit(unit_amount, "unit_amount")


def build_line(  # a line's fields are independent facts, so they are all named
    *,
    line_id: str,
    kind: str,
    description: str,
    quantity: int,
    unit_amount: int,
    tax_rates: list[TaxRate],
    discountable: bool,
    amount: int | None,
    period: tuple[datetime, datetime] | None,
    tiers: list[dict[str, Any]] | None = None,
    usage: dict[str, Any] | None = None,
    price_id: str | None = None,
    paid_for: list[dict[str, Any]] | None = None,
    given: dict[str, Any] | None = None,
) -> tuple[Line, dict[str, dict[str, Any]]]:
    """The line record and the records of its tax rates (kept on the invoice, so a
    finalized invoice explains itself whatever happens to the rates later)."""
    line: Line = {
        "id": line_id,
        "kind": kind,
        "description": description[:500],
        "quantity": quantity,
        "unit_amount": unit_amount,
        "amount": check_within_limit(
            quantity * unit_amount if amount is None else amount, "the line's amount"
        ),
        "discountable": discountable and kind not in CREDITING,
        "tax_rate_ids": [r.id for r in tax_rates],
    }
    if period is not None:
        line["period"] = [period[0].isoformat(), period[1].isoformat()]
    if tiers:
        if sum(int(t["amount"]) for t in tiers) != line["amount"]:
            raise ValidationFailed("a line's tiers add up to its amount")
        line["tiers"] = [dict(t) for t in tiers]
    if usage is not None:
        line["usage"] = dict(usage)
    if paid_for is not None:
        line["paid_for"] = [dict(p) for p in paid_for]
    if given is not None:
        line["given"] = checked_given(given, tax_rates)
    if price_id is not None:
        # The price a subscription line bills (issue 13: a product's earnings).
        line["price_id"] = price_id
    rates = {
        r.id: {
            "percentage": str(r.percentage),
            "inclusive": r.inclusive,
            "jurisdiction": r.jurisdiction,
        }
        for r in tax_rates
    }
    return line, rates


def checked_given(given: dict[str, Any], tax_rates: list[TaxRate]) -> dict[str, Any]:
    """A provider's discount and tax on a line, checked: whole amounts within the money
    limit, the discount not negative, the inclusive part within the tax and of its sign
    (a credit line's tax is negative), and no Tally rates beside them (the line's tax is
    the provider's alone)."""
    if tax_rates:
        raise ValidationFailed("a line with the provider's tax takes no Tally tax rates")
    values = {k: given.get(k, 0) for k in ("discount", "tax", "inclusive_tax")}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationFailed(f"a line's given {name} is a whole amount")
        check_within_limit(value, f"the line's {name}")
    tax, inclusive = values["tax"], values["inclusive_tax"]
    if values["discount"] < 0 or abs(inclusive) > abs(tax) or inclusive * tax < 0:
        raise ValidationFailed(
            "a line's discount is not negative, its inclusive tax is part of its tax"
        )
    account = str(given.get("tax_account") or "")
    if not account or len(account) > 64:
        raise ValidationFailed("a line's given tax names its account (1 to 64 characters)")
    return {**values, "tax_account": account}
