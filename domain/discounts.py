"""Coupons and how a discount spreads over an invoice's lines.

A coupon takes a percentage or a fixed amount (in one currency) off. A discount never
makes a line, or the invoice, negative: a fixed amount larger than the discountable
subtotal takes off only the subtotal. The discount is spread over the discountable lines
in proportion to their amounts (largest remainder, so the parts add up exactly), because
tax is computed per line on the discounted amount.
"""

from __future__ import annotations

from decimal import Decimal

from domain.errors import ValidationFailed
from domain.tax import HUNDRED, round_minor

DURATIONS = ("once", "repeating", "forever")


def discount_amount(subtotal: int, percent_off: Decimal | None, amount_off: int | None) -> int:
    """How much a coupon takes off a discountable subtotal, never more than the subtotal."""
    if (percent_off is None) == (amount_off is None):
        raise ValidationFailed("a coupon takes either a percentage or an amount off")
    if subtotal <= 0:
        return 0
    if percent_off is not None:
        return min(subtotal, round_minor(Decimal(subtotal) * percent_off / HUNDRED))
    assert amount_off is not None
    return min(subtotal, amount_off)


def allocate(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` over ``weights`` in proportion, as integers that sum to ``total``
    (largest remainder method; ties go to the earlier line)."""
    weight_sum = sum(weights)
    if total == 0 or weight_sum == 0:
        return [0] * len(weights)
    exact = [Decimal(total) * w / weight_sum for w in weights]
    parts = [int(e) for e in exact]
    short = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:short]:
        parts[i] += 1
    return parts
