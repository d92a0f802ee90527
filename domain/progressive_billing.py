"""Progressive billing (issue 13): an invoice in the middle of a period when the usage
charges of the period so far pass a threshold (Lago's progressive billing, Stripe's
billing thresholds).

A subscription may have up to ``MAX_USAGE_THRESHOLDS`` thresholds, increasing amounts
in minor units. Each time the rated usage of its current period (what the renewal would
bill for it now) reaches one it has not reached yet, an invoice bills the usage so far
less what earlier progressive invoices of the period billed (per price and meter group,
as late usage is billed: ``domain.usage_rating``). The renewal then bills only the rest,
so the period's invoices together bill what its whole usage costs, never twice (a
hypothesis property: ``tests/unit/test_progressive_billing.py``). A quantity that falls
is not credited, as everywhere in usage.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.errors import InvalidCombination, ValidationFailed
from domain.limits import MAX_AMOUNT_MINOR, MAX_USAGE_THRESHOLDS
from domain.usage_rating import BilledKey, MeteredPrice, UsageLine, now_billed, usage_lines


def check_thresholds(thresholds: list[int]) -> list[int]:
    """Up to ``MAX_USAGE_THRESHOLDS`` strictly increasing amounts, each 1 to
    ``MAX_AMOUNT_MINOR``; none turns progressive billing off."""
    if len(thresholds) > MAX_USAGE_THRESHOLDS:
        raise ValidationFailed(f"at most {MAX_USAGE_THRESHOLDS} usage thresholds")
    for amount in thresholds:
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise ValidationFailed("a usage threshold is a whole amount in minor units")
        if not 1 <= amount <= MAX_AMOUNT_MINOR:
            raise ValidationFailed(f"a usage threshold is 1 to {MAX_AMOUNT_MINOR}")
    if thresholds != sorted(set(thresholds)):
        raise InvalidCombination("usage thresholds are strictly increasing")
    return list(thresholds)


@dataclass(frozen=True)
class ProgressiveStep:
    """An invoice to make now: its lines, what the period has been billed once they
    are, and how many thresholds its usage has reached."""

    lines: list[UsageLine]
    billed: dict[BilledKey, Decimal]
    reached: int


def reached(thresholds: list[int], charges: int) -> int:
    """How many thresholds ``charges`` (minor units) has reached."""
    return sum(1 for threshold in thresholds if charges >= threshold)


def progressive_step(  # the period's facts, each named
    *,
    prices: list[MeteredPrice],
    quantities: dict[Any, dict[str, Decimal | None]],
    period: tuple[datetime, datetime],
    billed: dict[BilledKey, Decimal],
    level: int,
    thresholds: list[int],
) -> ProgressiveStep | None:
    """The invoice to make when the period's usage so far (``quantities``) has reached
    a threshold beyond the ``level`` reached before; None otherwise. Its lines bill what
    the usage costs now less what ``billed`` says the period's earlier progressive
    invoices billed."""
    charges = sum(line.amount for line in usage_lines(prices, quantities, period, {}, late=False))
    now = reached(thresholds, charges)
    if now <= level:
        return None
    # Only what is left to bill (the groups an earlier invoice billed in full have no
    # line): the late-usage arithmetic, shown as the period's own usage.
    rest = usage_lines(prices, quantities, period, billed, late=True)
    lines = [replace(line, late=False) for line in rest]
    return ProgressiveStep(lines, now_billed(lines, billed), now)
