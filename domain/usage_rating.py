"""Rating usage into invoice lines (issue 13). Pure: the caller reads the quantities.

A metered price charges its meter's quantity over a period, per group of the meter
(each group its own line): ``metered`` its ``unit_amount`` per unit, ``metered_graduated``
and ``metered_volume`` by the tiers of the quantity as graduated and volume prices do
(``domain.catalog``), rounded half-even to a minor unit once (quantities are decimals),
``metered_package`` its ``unit_amount`` per package of units (``domain.usage_packages``).
A subscription's usage is billed in arrears: the invoice a renewal drafts bills
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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from domain.catalog import Price
from domain.invoice_lines import MAX_LINES
from domain.limits import MAX_QUANTITY
from domain.price_tiers import Tier, tier_breakdown
from domain.subscriptions import Subscription
from domain.usage import EXACT, MeterRule, decimal_text
from domain.usage_billing import UsageBilling
from domain.usage_packages import Package, package_count

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


def tiered_usage_amount(mode: str, tiers: list[Tier], quantity: Decimal | None) -> int:
    """``domain.price_tiers.tiered_amount`` over a decimal quantity (the same for a whole
    one), rounded half-even to a minor unit once; nothing for none or less."""
    if quantity is None or quantity <= 0:
        return 0
    total = Decimal(0)
    if mode == "volume":
        for tier in tiers:
            if tier["up_to"] is None or quantity <= tier["up_to"]:
                total = EXACT.add(EXACT.multiply(Decimal(tier["unit_amount"]), quantity),
                                  Decimal(tier["flat_amount"]))  # fmt: skip
                break
    else:
        floor = Decimal(0)
        for tier in tiers:
            if quantity <= floor:
                break
            ceiling = quantity if tier["up_to"] is None else min(quantity, Decimal(tier["up_to"]))
            part = EXACT.multiply(Decimal(tier["unit_amount"]), ceiling - floor)
            total = EXACT.add(total, EXACT.add(part, Decimal(tier["flat_amount"])))
            floor = ceiling
    return int(total.to_integral_value(rounding=ROUND_HALF_EVEN, context=EXACT))


def usage_period(sub: Subscription) -> tuple[datetime, datetime]:
    """The period whose usage counts toward the subscription now: its current period,
    from the subscription's start until it first renews (so usage during a trial is
    billed with the first period's)."""
    start, end = sub.current_period
    if sub.period_index == 0:
        start = min(start, sub.started_at)
    return start, end


def billing_period(
    sub: Subscription, ledger: UsageBilling | None, until: datetime | None = None
) -> tuple[datetime, datetime]:
    """The period whose usage the subscription bills next: its usage period, from where
    the last billed one ended when that is later (a pause billed the usage up to it,
    and a resumed subscription's periods restart from the resumption: usage during the
    pause is billed with the first period after it), and up to ``until`` when given (a
    cancellation or pause now)."""
    start, end = usage_period(sub)
    last = ledger.last_period if ledger is not None else None
    if last is not None and start < last[1] < end:
        start = last[1]
    return start, end if until is None else max(start, min(until, end))


@dataclass(frozen=True)
class MeteredPrice:
    """A metered price a subscription has, with its meter and its line text."""

    price_id: str
    unit_amount: int
    description: str
    rule: MeterRule
    scheme: str = "metered"
    tiers: tuple[Tier, ...] = ()
    package: Package | None = None

    @classmethod
    def of(cls, price: Price, description: str, rule: MeterRule) -> MeteredPrice:
        """The rating terms of a metered price, with its line text and its meter's rule."""
        return cls(
            str(price.id), price.unit_amount, description, rule, price.scheme,
            tuple(price.tiers), price.package,
        )  # fmt: skip

    @property
    def mode(self) -> str:
        """``per_unit``, ``graduated``, ``volume`` or ``package``."""
        if self.package is not None:
            return "package"
        return self.scheme.removeprefix("metered_") if self.tiers else "per_unit"

    def units(self, quantity: Decimal | None) -> Decimal | None:
        """What the unit amount is charged for: the quantity, or its packages."""
        if self.package is None:
            return quantity
        return Decimal(package_count(self.package, quantity))

    def amount(self, quantity: Decimal | None) -> int:
        """What ``quantity`` of the meter costs; nothing for none or less."""
        if self.mode in ("per_unit", "package"):
            return rated_amount(self.unit_amount, self.units(quantity))
        return tiered_usage_amount(self.mode, list(self.tiers), quantity)


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
        # A package price charges for packages: the packages this line adds.
        units = (self.price.units(self.quantity) or Decimal(0)) - (
            self.price.units(self.billed_before) or Decimal(0)
        )
        unit = self.price.unit_amount
        whole = units == units.to_integral_value() and 1 <= units <= MAX_QUANTITY
        per_unit = self.price.mode in ("per_unit", "package")
        if per_unit and whole and unit * int(units) == self.amount:
            return int(units), unit
        return 1, self.amount

    def tier_parts(self) -> list[dict[str, Any]] | None:
        """A tiered price's parts of the amount (``domain.price_tiers``), for a first
        billing of a whole quantity; None otherwise (the amount is then one figure)."""
        quantity = self.quantity
        if self.price.mode in ("per_unit", "package") or self.late:
            return None
        if not 1 <= quantity <= MAX_QUANTITY:
            return None
        if quantity != quantity.to_integral_value():
            return None
        parts = tier_breakdown(self.price.mode, list(self.price.tiers), int(quantity))
        return parts if sum(int(p["amount"]) for p in parts) == self.amount else None

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
            amount = price.amount(quantity) - price.amount(before)
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


def split_usage(lines: Sequence[UsageLine], beside: int) -> list[list[UsageLine]]:
    """The usage lines as invoices take them, in order: those that fit on the invoice
    beside its ``beside`` other lines (items, prorations), then invoices of usage lines
    alone, ``MAX_LINES`` each (a renewal's ``usage_continued`` invoices). The first
    part may be empty; the others never are."""
    room = max(MAX_LINES - beside, 0)
    rest = list(lines[room:])
    return [list(lines[:room])] + [
        rest[start : start + MAX_LINES] for start in range(0, len(rest), MAX_LINES)
    ]
