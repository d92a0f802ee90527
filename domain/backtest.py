"""Backtesting a price book against recorded invoices (issue 15, docs/audit.md): what
one recorded subscription invoice would have totalled had its items and its usage been
rated under other prices. Pure: the caller finds the invoice's lines, the subscription's
items for the invoice's period and, for a recorded price id, the price the new book
gives it (None: the book leaves that price as it is).

Nothing here prices anything itself: a subscription line is re-rated by the new
``Price.amount_for`` (flat, per unit, graduated, volume), a usage line by
``domain.usage_rating.MeteredPrice.amount`` (per unit or tiered) over the quantity the
line recorded (less what an earlier invoice billed, as a late-usage line bills), and
both invoices are totalled by
``domain.invoice_totals.preview_totals`` with the invoice's own tax rates and coupon.
Proration and one-time lines keep their recorded amounts.

A subscription line ``sub_n`` is the n-th item of the subscription at the invoice's
period (``domain.subscription_drafts.draft_invoice`` numbers them so); a line whose
item does not have the line's recorded quantity and amount is not re-rated and is
counted as ``unmatched``, so a history this cannot explain never shows as a difference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.catalog import Price
from domain.invoice_totals import preview_totals
from domain.usage import MeterRule
from domain.usage_rating import MeteredPrice

Line = dict[str, Any]
NewPrice = Callable[[str], Price | None]  # a recorded price id -> its price in the new book


@dataclass(frozen=True)
class Rerated:
    """One invoice's total as recorded (``was``, recomputed from its lines) and as the
    new book would have made it (``would_be``)."""

    was: int
    would_be: int
    lines_changed: int
    unmatched: int


def _subscription_amount(
    line: Line, items: list[dict[str, Any]], new_price: NewPrice
) -> int | None:
    """The new amount of line ``sub_n`` (None: keep the recorded one, or unmatched)."""
    n = int(str(line["id"]).removeprefix("sub_"))
    if not 1 <= n <= len(items):
        raise LookupError(line["id"])
    item = items[n - 1]
    quantity = int(line["quantity"])
    if int(item["quantity"]) != quantity or int(item["amount"]) != int(line["amount"]):
        raise LookupError(line["id"])
    price = new_price(str(item["price_id"]))
    return None if price is None else price.amount_for(quantity)


# The meter does not enter a usage line's amount (only its price and quantity do).
_ANY_METER = MeterRule(UUID(int=0), "backtest", "backtest", "count", "", {}, [])


def _usage_amount(line: Line, new_price: NewPrice) -> int | None:
    usage = line.get("usage") or {}
    if "price_id" not in usage:
        raise LookupError(line["id"])
    price = new_price(str(usage["price_id"]))
    if price is None:
        return None
    metered = MeteredPrice.of(price, "", _ANY_METER)
    quantity, before = Decimal(usage["quantity"]), Decimal(usage["billed_before"])
    # As usage_rating.usage_lines bills a line: the quantity's amount less what was
    # billed for it before (a late line), never below zero.
    return max(0, metered.amount(quantity) - metered.amount(before))


def rerated_lines(
    lines: list[Line], items: list[dict[str, Any]] | None, new_price: NewPrice
) -> tuple[list[Line], int, int]:
    """The lines with the new book's amounts, how many changed and how many could not be
    matched to a price (kept as recorded)."""
    out: list[Line] = []
    changed = unmatched = 0
    for line in lines:
        amount: int | None = None
        try:
            if line["kind"] == "subscription":
                if items is None:
                    raise LookupError(line["id"])
                amount = _subscription_amount(line, items, new_price)
            elif line["kind"] == "usage":
                amount = _usage_amount(line, new_price)
        except LookupError:
            unmatched += 1
        if amount is None or amount == int(line["amount"]):
            out.append(line)
            continue
        changed += 1
        quantity = int(line["quantity"])
        unit = amount // quantity if amount % quantity == 0 else amount
        out.append({**line, "amount": amount, "unit_amount": unit})
    return out, changed, unmatched


def rerate(
    lines: list[Line],
    rates: dict[str, dict[str, Any]],
    coupon: dict[str, Any] | None,
    items: list[dict[str, Any]] | None,
    new_price: NewPrice,
) -> Rerated:
    """One invoice (its recorded lines, tax rates and coupon) under the new book."""
    new_lines, changed, unmatched = rerated_lines(lines, items, new_price)
    was = int(preview_totals(lines, rates, coupon)["total"])
    would_be = int(preview_totals(new_lines, rates, coupon)["total"])
    return Rerated(was, would_be, changed, unmatched)
