"""Rating a subscription's usage when it renews (issue 13; ``domain.usage_rating``).

The renewal's invoice bills the usage of the period that just ended, and the usage that
arrived late for the periods billed before it (the last one and the one before it: an
adjustment, only what was not billed then). The quantities are read through the bus's
usage source before the subscription changes (a handler must not fail once it has
recorded something), and the invoice's lines record them; ``UsageBilling`` keeps what
was billed for the last two periods, for the next renewal's adjustments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from commands.line_descriptions import item_line
from domain.catalog import Price
from domain.meters import Meter
from domain.subscription_states import ACTIVE, PAST_DUE
from domain.subscriptions import Subscription
from domain.usage import MeterRule
from domain.usage_billing import UsageBilling
from domain.usage_rating import (
    BilledKey,
    MeteredPrice,
    UsageLine,
    billing_period,
    now_billed,
    usage_lines,
)


@dataclass
class RatedUsage:
    """The usage lines of a renewal's invoice, and what to record once it is kept."""

    lines: list[UsageLine] = field(default_factory=list)
    period: tuple[datetime, datetime] | None = None
    prices: list[str] = field(default_factory=list)
    billed: dict[BilledKey, Decimal] = field(default_factory=dict)
    # What the period billed before has been billed, this invoice's late lines included.
    last_billed: dict[BilledKey, Decimal] = field(default_factory=dict)

    def record(self, uow: UnitOfWork, sub: Subscription, invoice_id: UUID) -> None:
        """Keep what this invoice billed (in the same save as the invoice)."""
        if self.period is None:
            return
        ledger = uow.find(UsageBilling, UsageBilling.create_id(sub.id))
        if ledger is None:
            ledger = UsageBilling.start(sub.project_id, sub.id)
        ledger.record(invoice_id, self.period, self.prices, self.billed, self.last_billed)
        uow.add(ledger)


def metered_prices(
    uow: UnitOfWork, ctx: Context, items: Sequence[dict[str, Any]]
) -> list[MeteredPrice]:
    """The metered prices among ``items`` whose meter is defined (a price that names a
    meter never defined is rated nothing, as before meters existed)."""
    found: list[MeteredPrice] = []
    for item in items:
        price = uow.get(Price, UUID(str(item["price_id"])), ctx.project_id)
        if not price.metered:
            continue
        meter = uow.find(Meter, Meter.create_id(ctx.project_id, price.meter))
        if meter is None or meter.project_id != ctx.project_id:
            continue
        description, _ = item_line(uow, ctx, item)
        rule = MeterRule.of(meter.summary())
        found.append(MeteredPrice.of(price, description, rule))
    return found


def period_ends_at(sub: Subscription, due: datetime) -> bool:
    """Whether the subscription's step due at ``due`` ends its period: a renewal, or
    the cancellation at the period's end (both bill the period's usage)."""
    return sub.status in (ACTIVE, PAST_DUE) and due >= sub.current_period[1]


def quantities_of(
    uow: UnitOfWork,
    sub: Subscription,
    prices: list[MeteredPrice],
    period: tuple[datetime, datetime],
) -> dict[UUID, dict[str, Decimal | None]]:
    if uow.usage is None or not prices:
        return {}
    rules = list({price.rule.id: price.rule for price in prices}.values())
    return uow.usage.quantities(sub.project_id, sub.customer_id, sub.id, rules, period)


def _late(
    uow: UnitOfWork,
    ctx: Context,
    sub: Subscription,
    billed_prices: list[str],
    period: tuple[datetime, datetime],
    billed: dict[BilledKey, Decimal],
) -> list[UsageLine]:
    """The late lines of a period billed before: what its usage comes to now, less what
    was billed for it."""
    prices = metered_prices(uow, ctx, [{"price_id": p, "quantity": 1} for p in billed_prices])
    return usage_lines(prices, quantities_of(uow, sub, prices, period), period, billed, late=True)


def rate_renewal(
    uow: UnitOfWork, ctx: Context, sub: Subscription, until: datetime | None = None
) -> RatedUsage:
    """The usage lines of the invoice the subscription's renewal is about to draft: the
    late usage of the period billed before the last (usage the door admitted just before
    the last renewal committed: ``domain.usage_billing``) and of the period billed last,
    then the period ending now (or at ``until``: a cancellation or pause now). Before it
    reads, it fences off usage older than the last period (``adapters/usage_fences.py``):
    no invoice after it would bill it."""
    if uow.usage is None:
        return RatedUsage()
    ledger = uow.find(UsageBilling, UsageBilling.create_id(sub.id))
    whole = billing_period(sub, ledger)
    period = billing_period(sub, ledger, until)
    rated = RatedUsage(period=period)
    if ledger is not None:
        _late_lines(uow, ctx, sub, ledger, period, rated)
    prices = metered_prices(uow, ctx, sub.items)
    # What progressive invoices billed of the period already (domain.progressive_billing).
    early = ledger.progressive_for(whole)[0] if ledger is not None else {}
    fresh = usage_lines(prices, quantities_of(uow, sub, prices, period), period, early, late=False)
    rated.lines += fresh
    rated.prices = [price.price_id for price in prices]
    rated.billed = now_billed(fresh, early)
    if ledger is None and not prices:
        rated.period = None  # nothing metered, ever: nothing to keep
    return rated


def _late_lines(
    uow: UnitOfWork,
    ctx: Context,
    sub: Subscription,
    ledger: UsageBilling,
    period: tuple[datetime, datetime],
    rated: RatedUsage,
) -> None:
    """The late usage of the two periods billed before, into ``rated``."""
    last = ledger.last_period
    if last is None or last == period:
        return
    assert uow.usage is not None
    # After this renewal only usage from the last period on is billed (as late usage):
    # fence older usage off before reading, so none is stored unbilled.
    uow.usage.fence(sub.project_id, sub.customer_id, sub.id, last[0])
    earlier = ledger.earlier_period
    if earlier is not None and earlier not in (last, period) and ledger.earlier_prices:
        rated.lines += _late(
            uow, ctx, sub, ledger.earlier_prices, earlier, ledger.earlier_billed_for()
        )
    billed = ledger.billed_for(last) or {}
    if ledger.prices:
        late = _late(uow, ctx, sub, ledger.prices, last, billed)
        rated.lines += late
        billed = now_billed(late, billed)
    rated.last_billed = billed
