"""A subscription's invoice for one period, drafted from what it bills, and which period
its next invoice is for. Pure: the caller looks up the item texts, the tax rates and the
coupon (the invoicing commands from the event store, the upcoming invoice query from the
read models), so both price an invoice with the same arithmetic.

The draft has a line per item (the item's amount for the period), the proration lines
collected since the last renewal, the usage lines of the period before (billed in
arrears), the given tax rates and the coupon. It is an
``Invoice`` that records its events but is saved only if the caller adds it to a unit of
work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.invoices import Invoice
from domain.line_descriptions import invoice_description
from domain.money import Money
from domain.subscription_states import ACTIVE, PAST_DUE, TRIALING, Item
from domain.subscriptions import Subscription
from domain.tax import TaxRate
from domain.usage_rating import UsageLine

# A subscription item's line text and, for a tiered price, the parts of its amount
# (``domain.line_descriptions.item_text``).
ItemText = tuple[str, list[dict[str, Any]] | None]


@dataclass(frozen=True)
class NextInvoice:
    """What the subscription's next invoice bills: a period, its items and the proration
    lines collected for it."""

    period: tuple[datetime, datetime]
    items: list[Item]
    proration_lines: list[dict[str, Any]]


def next_invoice(sub: Subscription) -> NextInvoice | None:
    """The first period after a trial, or the next renewal (with the items it will have
    and the proration lines collected so far); None when nothing more will be billed
    (canceled at period end, paused, ended, incomplete)."""
    if sub.status == TRIALING:
        return NextInvoice(sub.schedule.period(0), sub.items, [])
    if sub.status in (ACTIVE, PAST_DUE) and not sub.cancel_at_period_end:
        items = sub.pending_items if sub.pending_items is not None else sub.items
        return NextInvoice(sub.schedule.period(sub.period_index + 1), items, sub.proration_lines)
    return None


def draft_invoice(  # the period's facts, each named
    sub: Subscription,
    *,
    period: tuple[datetime, datetime],
    items: list[Item],
    texts: list[ItemText],
    proration_lines: list[dict[str, Any]],
    rates: list[TaxRate],
    coupon: dict[str, Any] | None,
    finalize_at: datetime | None,
    reason: str,
    usage: Sequence[UsageLine] = (),
) -> Invoice:
    """The draft of ``sub``'s invoice for ``period``: ``texts`` are the items' (in their
    order), ``coupon`` the terms of the coupon it gets (``CustomerBilling.coupon_for``),
    ``usage`` the rated usage of the period before (``domain.usage_rating``)."""
    invoice = Invoice(
        project_id=sub.project_id,
        customer_id=sub.customer_id,
        currency=sub.currency,
        subscription_id=sub.id,
        period_start=period[0],
        period_end=period[1],
        finalize_at=finalize_at,
        description=invoice_description(reason),
    )
    for n, (item, (description, tiers)) in enumerate(zip(items, texts, strict=True), start=1):
        quantity = int(item["quantity"])
        invoice.add_line(
            f"sub_{n}",
            "subscription",
            description,
            quantity,
            int(item["amount"]) // quantity,
            rates,
            amount=int(item["amount"]),
            period=period,
            tiers=tiers,
            price_id=str(item["price_id"]),
        )
    for n, line in enumerate(proration_lines, start=1):
        invoice.add_line(
            f"proration_{n}", "proration", line["description"], 1, int(line["amount"]), rates
        )
    for n, used in enumerate(usage, start=1):
        quantity, unit_amount = used.billed_units()
        invoice.add_line(
            f"usage_{n}",
            "usage",
            used.description(),
            quantity,
            unit_amount,
            rates,
            amount=used.amount,
            period=used.period,
            tiers=used.tier_parts(),
            usage=used.record(),
        )
    if coupon is not None:
        off = coupon["amount_off"]
        money_off = None if off is None else Money(int(off), coupon["currency"])
        invoice.apply_coupon(coupon["coupon_id"], coupon["percent_off"], money_off, coupon["code"])
    return invoice
