"""Proration: what a change in the middle of a period credits and charges.

Rule (the one rounding rule, used everywhere): the exact share is
``price * remaining seconds / period seconds`` as a ``Decimal``, rounded to a whole minor
unit with ROUND_HALF_EVEN (banker's rounding), per line. A change credits the unused time
of the old items and charges the remaining time of the new ones, as two lines, so each
line is off by at most half a minor unit and a change by at most one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from domain.errors import ValidationFailed


def share(amount: int, start: datetime, end: datetime, at: datetime) -> int:
    """The part of ``amount`` (for the period [start, end)) that falls in [at, end)."""
    if not start <= at <= end or start >= end:
        raise ValidationFailed("the moment of a change must fall inside the period")
    remaining = Decimal((end - at).total_seconds())
    total = Decimal((end - start).total_seconds())
    return int((Decimal(amount) * remaining / total).quantize(Decimal(1), ROUND_HALF_EVEN))


@dataclass(frozen=True, slots=True)
class ProrationLine:
    description: str
    amount: int  # negative for a credit

    @property
    def is_credit(self) -> bool:
        return self.amount < 0


def prorate_change(
    old_amount: int, new_amount: int, start: datetime, end: datetime, at: datetime
) -> list[ProrationLine]:
    """Lines for replacing a per-period charge of ``old_amount`` by ``new_amount`` at ``at``."""
    lines = []
    credit = share(old_amount, start, end, at)
    if credit:
        lines.append(ProrationLine("unused time on previous items", -credit))
    charge = share(new_amount, start, end, at)
    if charge:
        lines.append(ProrationLine("remaining time on new items", charge))
    return lines
