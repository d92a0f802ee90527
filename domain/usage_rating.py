"""Rating usage into invoice lines (issue 13). Pure: the caller reads the quantities.

A metered price charges its ``unit_amount`` per unit of its meter's quantity over a
period, per group of the meter (each group its own line), rounded half-even to a minor
unit. A subscription's usage is billed in arrears: the invoice a renewal drafts bills
the items of the new period in advance and the usage of the period that just ended.

Each line records the quantity it billed (``UsageLine.record``, the line's ``usage``
field), so replaying the invoice never reads usage again. What was billed for the last
period is also kept per subscription (``domain.usage_billing.UsageBilling``): usage
that arrives late for that period (within ``USAGE_LATE_GRACE_S``) is billed on the next
invoice as an adjustment, the amount of the quantity known then less the amount already
billed, so a late event is billed once however many invoices follow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from domain.limits import MAX_QUANTITY
from domain.subscriptions import Subscription
from domain.usage import EXACT, MeterRule, decimal_text

Quantities = dict[str, Decimal | None]  # per group (its stored key) of one meter
BilledKey = str  # "price_id group_key"


def rated_amount(unit_amount: int, quantity: Decimal | None) -> int:
    """What ``quantity`` units cost at ``unit_amount`` minor units each, rounded
    half-even to a minor unit; nothing for no usage, or a quantity below zero (a sum
    of negative values: usage never credits)."""
    if quantity is None or quantity <= 0:
        return 0
    product = EXACT.multiply(Decimal(unit_amount), quantity)
    return int(product.to_integral_value(rounding=ROUND_HALF_EVEN, context=EXACT))


def usage_period(sub: Subscription) -> tuple[datetime, datetime]:
    """The period whose usage counts toward the subscription now: its current period,
    from the subscription's start until it first renews (so usage during a trial is
    billed with the first period's)."""
    start, end = sub.current_period
    if sub.period_index == 0:
        start = min(start, sub.started_at)
    return start, end


@dataclass(frozen=True)
class MeteredPrice:
    """A metered price a subscription has, with its meter and its line text."""

    price_id: str
    unit_amount: int
    description: str
    rule: MeterRule


@dataclass(frozen=True)
class UsageLine:
    """One invoice line of usage: a price's quantity over a period for one group of its
    meter, and the amount it charges (less what an earlier invoice billed for it)."""

    price: MeteredPrice
    group_key: str
    period: tuple[datetime, datetime]
    quantity: Decimal
    billed_before: Decimal
    amount: int
    late: bool

    @property
    def key(self) -> BilledKey:
        return billed_key(self.price.price_id, self.group_key)

    def group(self) -> dict[str, str | None]:
        return dict(zip(self.price.rule.group_by, json.loads(self.group_key), strict=True))

    def description(self) -> str:
        group = ", ".join(f"{k}: {v}" for k, v in self.group().items() if v is not None)
        text = f"{self.price.description}: {self.price.rule.code}"
        text += f" ({group})" if group else ""
        return f"{text}, late usage" if self.late else text

    def billed_units(self) -> tuple[int, int]:
        """The line's whole ``quantity`` and ``unit_amount``: the units it charges for
        and the price's unit amount when they are a whole number (of at most
        ``MAX_QUANTITY``) that gives its amount; else one unit of the amount (the exact
        quantity is in ``record()``)."""
        units = self.quantity - self.billed_before
        unit = self.price.unit_amount
        whole = units == units.to_integral_value() and 1 <= units <= MAX_QUANTITY
        if whole and unit * int(units) == self.amount:
            return int(units), unit
        return 1, self.amount

    def record(self) -> dict[str, Any]:
        """The line's ``usage`` field: what it billed, fixed in the recorded event."""
        return {
            "price_id": self.price.price_id,
            "meter_id": str(self.price.rule.id),
            "meter": self.price.rule.code,
            "group": self.group(),
            "period": [self.period[0].isoformat(), self.period[1].isoformat()],
            "quantity": decimal_text(self.quantity),
            "billed_before": decimal_text(self.billed_before),
        }


def billed_key(price_id: str, group_key: str) -> BilledKey:
    return f"{price_id} {group_key}"


def usage_lines(
    prices: list[MeteredPrice],
    quantities: dict[Any, Quantities],
    period: tuple[datetime, datetime],
    billed: dict[BilledKey, Decimal],
    *,
    late: bool,
) -> list[UsageLine]:
    """The lines of ``period``'s usage (``quantities`` per meter id, per group), each
    group of each price once. ``late``: the period was billed before, and ``billed``
    says for how much per price and group, so only the rest is charged. A group with
    nothing left to charge has no line, except on a period's first billing, which shows
    every group that had usage."""
    lines: list[UsageLine] = []
    for price in prices:
        for group_key, value in sorted(quantities.get(price.rule.id, {}).items()):
            quantity = value if value is not None and value > 0 else Decimal(0)
            before = billed.get(billed_key(price.price_id, group_key), Decimal(0))
            amount = rated_amount(price.unit_amount, quantity) - rated_amount(
                price.unit_amount, before
            )
            if amount > 0 or (not late and quantity > 0):
                lines.append(
                    UsageLine(price, group_key, period, quantity, before, max(amount, 0), late)
                )
    return lines


def now_billed(
    lines: list[UsageLine], billed: dict[BilledKey, Decimal]
) -> dict[BilledKey, Decimal]:
    """What has been billed for the period once ``lines`` are: the greater of what was
    and what they bill (a quantity that fell is not credited, so what was billed
    stands)."""
    after = dict(billed)
    for line in lines:
        after[line.key] = max(after.get(line.key, Decimal(0)), line.quantity)
    return after
