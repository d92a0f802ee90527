"""The upcoming invoice of a subscription: a query over the ``subscriptions``,
``catalog`` and ``billing_setup`` read models. Nothing is written.

The aggregates it needs (the subscription, its prices and products, the project's
billing settings and default tax rates, the customer's billing record) are rebuilt from
the states those read models keep (``projections.aggregates.load_aggregates``), and the
invoice is drafted by ``domain.subscription_drafts``, the code the invoicing commands
draft a subscription's invoices with, so the two never price differently. All of it is
read in one snapshot (a repeatable-read transaction), so it is consistent with itself.

Query:

- ``upcoming_invoice(pool, schema, project_id, subscription_id, usage=None) -> dict |
  None``: ``{"upcoming_invoice": ..., "continued": [...]}``, the invoice as
  ``invoice_summary`` shows a
  draft (``id`` and ``version`` null, ``created`` the moment it was drafted), or null
  when nothing more will be billed (canceled at period end, paused, ended); None when
  the project has no such subscription. With ``usage`` (a reader of the usage totals,
  which the API passes: projections import no adapters), a renewal's draft shows the
  usage of the current period so far, rated as the renewal will rate it
  (``domain.usage_rating``); late usage of the period billed before is not shown.
  Usage lines past what fits beside the items are previewed as the renewal bills them,
  on ``continued`` invoices of usage lines alone (``split_usage``). The customer's
  prepaid credits are applied to that usage as the renewal will apply them
  (``domain.credit_invoicing``, at the renewal's time: ``credit_balances``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import Cursor
from psycopg_pool import ConnectionPool

from domain.billing_settings import DEFAULTS, BillingSettings
from domain.catalog import Price, Product
from domain.credit_balance import CreditBalance
from domain.credit_invoicing import apply_credits
from domain.customer_billing import CustomerBilling
from domain.invoices import Invoice, invoice_summary
from domain.line_descriptions import item_text
from domain.meters import Meter
from domain.subscription_drafts import ItemText, draft_invoice, next_invoice
from domain.subscription_states import ACTIVE, PAST_DUE
from domain.subscriptions import Subscription
from domain.tax import TaxRate
from domain.tax_rates import TaxRateDefinition
from domain.usage import MeterRule
from domain.usage_billing import UsageBilling
from domain.usage_rating import (
    MeteredPrice,
    UsageLine,
    billing_period,
    split_usage,
    usage_lines,
    usage_period,
)
from projections.aggregates import load_aggregates

_ID = "t.id = %s"
# The usage totals: (customer, subscription, meters, period) -> per meter id, per group.
UsageReader = Callable[
    [UUID, UUID, Sequence[MeterRule], tuple[datetime, datetime]],
    dict[UUID, dict[str, Decimal | None]],
]


def upcoming_invoice(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    subscription_id: UUID,
    usage: UsageReader | None = None,
) -> dict[str, Any] | None:
    with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        found = load_aggregates(
            cur, schema, "subscriptions", Subscription, project_id, _ID, [subscription_id]
        )
        if not found:
            return None
        sub: Subscription = found[0]
        coming = next_invoice(sub)
        if coming is None:
            return {"upcoming_invoice": None, "continued": []}
        rates = _default_rates(cur, schema, project_id)
        # As the renewal splits them: what fits beside the items, then usage alone.
        fits, *rest = split_usage(_usage_so_far(cur, schema, sub, usage),
                                  len(coming.items) + len(coming.proration_lines))  # fmt: skip
        invoice = draft_invoice(
            sub,
            period=coming.period,
            items=coming.items,
            texts=[_item_text(cur, schema, project_id, item) for item in coming.items],
            proration_lines=coming.proration_lines,
            rates=rates,
            coupon=_coupon(cur, schema, sub),
            finalize_at=None,
            reason="upcoming",
            usage=fits,
        )
        credits = _credits(cur, schema, sub)
    continued = [
        draft_invoice(sub, period=usage_period(sub), items=[], texts=[], proration_lines=[],
                      rates=rates, coupon=None, finalize_at=None, reason="usage_continued",
                      usage=part)
        for part in rest
    ]  # fmt: skip
    # The customer's prepaid credits, as the renewal will apply them when it comes (a
    # copy: the balance this records on is saved nowhere).
    for drafted in [invoice, *continued]:
        apply_credits(drafted, credits, coming.period[0])
    return {"upcoming_invoice": _unsaved(invoice), "continued": [_unsaved(i) for i in continued]}


def _credits(cur: Cursor[Any], schema: str, sub: Subscription) -> CreditBalance | None:
    found = load_aggregates(
        cur, schema, "credit_balances", CreditBalance, sub.project_id,
        "t.customer_id = %s AND t.currency = %s", [sub.customer_id, sub.currency],
    )  # fmt: skip
    return found[0] if found else None


def _unsaved(invoice: Invoice) -> dict[str, Any]:
    """A draft saved nowhere: it has no id or version a client could use."""
    summary = invoice_summary(invoice)
    return {**summary, "created": invoice.created_on.isoformat(), "id": None, "version": None}


def _item_text(cur: Cursor[Any], schema: str, project_id: UUID, item: dict[str, Any]) -> ItemText:
    (price,) = load_aggregates(
        cur, schema, "prices", Price, project_id, _ID, [UUID(str(item["price_id"]))]
    )
    (product,) = load_aggregates(
        cur, schema, "products", Product, project_id, _ID, [price.product_id]
    )
    return item_text(product.name, price, item)


def _usage_so_far(
    cur: Cursor[Any], schema: str, sub: Subscription, usage: UsageReader | None
) -> list[UsageLine]:
    """The current period's usage so far, rated, when the next invoice is a renewal
    (after a trial, the first invoice bills no usage: the trial's is billed with the
    first period's)."""
    if usage is None or sub.status not in (ACTIVE, PAST_DUE):
        return []
    ids = [UUID(str(item["price_id"])) for item in sub.items]
    prices = load_aggregates(cur, schema, "prices", Price, sub.project_id, "t.id = ANY(%s)", [ids])
    metered = {p.id: p for p in prices if p.metered}
    if not metered:
        return []
    codes = [price.meter for price in metered.values()]
    meters = load_aggregates(
        cur, schema, "meters", Meter, sub.project_id, "t.code = ANY(%s)", [codes]
    )
    rules = {meter.code: MeterRule.of(meter.summary()) for meter in meters}
    found = [
        MeteredPrice.of(price, _item_text(cur, schema, sub.project_id, item)[0], rules[price.meter])
        for item in sub.items
        if (price := metered.get(UUID(str(item["price_id"])))) is not None and price.meter in rules
    ]
    # As the renewal rates it: from where the last billed period ended (a pause's
    # invoice), less what threshold invoices billed of the period.
    ledgers = load_aggregates(cur, schema, "usage_billing", UsageBilling, sub.project_id,
                              "t.subscription_id = %s", [sub.id])  # fmt: skip
    ledger = ledgers[0] if ledgers else None
    period = billing_period(sub, ledger)
    early = ledger.progressive_for(period)[0] if ledger is not None else {}
    read = usage(sub.customer_id, sub.id, list(rules.values()), period)
    return usage_lines(found, read, period, early, late=False)


def _default_rates(cur: Cursor[Any], schema: str, project_id: UUID) -> list[TaxRate]:
    """The project's default tax rates in their configured order, archived ones left
    out (as the invoicing commands leave them out of a subscription's invoice)."""
    found = load_aggregates(
        cur, schema, "billing_settings", BillingSettings, project_id, "TRUE", []
    )
    # Settings configured before a field existed take its default.
    values = {**DEFAULTS, **found[0].values} if found else dict(DEFAULTS)
    ids = [UUID(i) for i in values["default_tax_rate_ids"]]
    if not ids:
        return []
    rates = load_aggregates(
        cur, schema, "tax_rates", TaxRateDefinition, project_id, "t.id = ANY(%s)", [ids]
    )
    by_id = {rate.id: rate for rate in rates}
    return [by_id[i].rate() for i in ids if i in by_id and by_id[i].active]


def _coupon(cur: Cursor[Any], schema: str, sub: Subscription) -> dict[str, Any] | None:
    """The terms of the coupon the subscription's next invoice gets (its own, else its
    customer's), from the customer's billing record."""
    found = load_aggregates(
        cur,
        schema,
        "customer_billing",
        CustomerBilling,
        sub.project_id,
        "t.customer_id = %s",
        [sub.customer_id],
    )
    coupon = found[0].coupon_for(sub.id) if found else None
    return coupon[1] if coupon is not None else None
