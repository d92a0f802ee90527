"""What invoicing is configured with: tax rates, coupons, promotion codes, billing
settings and each customer's billing record; the read models and their queries.

One row per aggregate (``projections.aggregates``), folded by the domain's own event
methods; each row keeps the aggregate's ``summary()``, which the commands answer with
too. Typed columns: ``tax_rates`` (active), ``coupons`` (code, active),
``promotion_codes`` (code, coupon_id), ``billing_settings`` (invoice_prefix),
``customer_billing`` (customer_id, credit_balance, and ``next_due_at``: the earliest
due work, which ``projections.invoices.due_invoice_work`` reads).

Queries (every one filters by project; another project's id answers None or is left
out; lists are in log order, ``starting_after`` is the previous page's last id):

- ``get_tax_rate(pool, schema, project_id, tax_rate_id) -> dict | None`` and
  ``list_tax_rates(pool, schema, project_id, *, active=None, limit, starting_after)``:
  ``TaxRateDefinition.summary()`` (``id``, ``percentage``, ``inclusive``,
  ``jurisdiction``, ``name``, ``active``).
- ``get_coupon(pool, schema, project_id, coupon_id) -> dict | None``,
  ``get_coupon_by_code(pool, schema, project_id, code)`` and ``list_coupons(pool,
  schema, project_id, *, active=None, limit, starting_after)``: ``Coupon.summary()``.
- ``list_promotion_codes(pool, schema, project_id, *, coupon_id=None, limit,
  starting_after)``: ``PromotionCode.summary()`` plus ``coupon`` (its coupon's summary),
  the body ``DefinePromotionCode`` answers with.
- ``get_billing_settings(pool, schema, project_id) -> dict | None``: None until the
  project's settings were first configured or used (then ``DEFAULTS`` apply).
- ``get_customer_billing(pool, schema, project_id, customer_id) -> dict | None``:
  ``CustomerBilling.summary()`` (``customer_id``, ``currency``, ``credit_balance``,
  ``coupons``, ``due``); None until invoicing first needed the customer's record.
- ``billing_without_collection(pool, schema) -> list[dict]``: the projects that bill
  (a subscription not canceled, or an open invoice) with no ``auto_charge_provider``,
  for the warning ``tally serve`` logs at start (``collection`` in
  ``projections.invoices``).

Every dict also has ``created_at`` and ``updated_at`` (ISO 8601 strings).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg_pool import ConnectionPool

from domain.billing_settings import BillingSettings
from domain.coupons import Coupon, PromotionCode
from domain.customer_billing import CustomerBilling
from domain.tax_rates import TaxRateDefinition
from projections import events as ev
from projections.aggregates import (
    AggregateModel,
    Kind,
    get_resource,
    list_resources,
)
from projections.paging import fetch_all
from projections.schema import table


def _summary(aggregate: Any) -> dict[str, Any]:
    summary: dict[str, Any] = aggregate.summary()
    return summary


def _next_due(billing: Any, _: dict[str, Any]) -> tuple[Any, ...]:
    due = billing.due.values()
    return (billing.customer_id, billing.credit_balance, min(due) if due else None)


class BillingSetup(AggregateModel):
    name = "billing_setup"
    kinds = (
        Kind(
            aggregate=TaxRateDefinition,
            table="tax_rates",
            events=frozenset({ev.TaxRateDefined, ev.TaxRateArchived}),
            columns=(("active", "bool"),),
            values=lambda r, _: (r.active,),
            summary=_summary,
        ),
        Kind(
            aggregate=Coupon,
            table="coupons",
            events=frozenset({ev.CouponDefined, ev.CouponRedeemed, ev.CouponArchived}),
            columns=(("code", "text"), ("active", "bool")),
            values=lambda c, _: (c.code, c.active),
            summary=_summary,
        ),
        Kind(
            aggregate=PromotionCode,
            table="promotion_codes",
            events=frozenset({ev.PromotionCodeDefined, ev.PromotionCodeRedeemed}),
            columns=(("code", "text"), ("coupon_id", "uuid")),
            values=lambda p, _: (p.code, p.coupon_id),
            summary=_summary,
        ),
        Kind(
            aggregate=BillingSettings,
            table="billing_settings",
            events=frozenset({ev.BillingSettingsOpened, ev.BillingSettingsConfigured}),
            columns=(("invoice_prefix", "text"),),
            values=lambda s, _: (s.values["invoice_prefix"],),
            summary=_summary,
        ),
        Kind(
            aggregate=CustomerBilling,
            table="customer_billing",
            events=frozenset(
                {
                    ev.BillingOpened,
                    ev.BillingCreditAdjusted,
                    ev.BillingCreditApplied,
                    ev.BillingCreditGranted,
                    ev.BillingCouponAttached,
                    ev.BillingCouponUsed,
                    ev.BillingWorkScheduled,
                    ev.BillingWorkCleared,
                }
            ),
            columns=(
                ("customer_id", "uuid"),
                ("credit_balance", "int8"),
                ("next_due_at", "timestamptz"),
            ),
            values=_next_due,
            summary=_summary,
        ),
    )


def get_tax_rate(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, tax_rate_id: UUID
) -> dict[str, Any] | None:
    return get_resource(pool, schema, "tax_rates", project_id, "t.id = %s", [tax_rate_id])


def list_tax_rates(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    *,
    active: bool | None = None,
    limit: int,
    starting_after: UUID | str | None,
) -> tuple[list[dict[str, Any]], bool]:
    filters = [("active", active)]
    return list_resources(
        pool, schema, "tax_rates", project_id, filters, limit=limit, starting_after=starting_after
    )


def get_coupon(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, coupon_id: UUID
) -> dict[str, Any] | None:
    return get_resource(pool, schema, "coupons", project_id, "t.id = %s", [coupon_id])


def get_coupon_by_code(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, code: str
) -> dict[str, Any] | None:
    return get_resource(pool, schema, "coupons", project_id, "t.code = %s", [code])


def list_coupons(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    *,
    active: bool | None = None,
    limit: int,
    starting_after: UUID | str | None,
) -> tuple[list[dict[str, Any]], bool]:
    filters = [("active", active)]
    return list_resources(
        pool, schema, "coupons", project_id, filters, limit=limit, starting_after=starting_after
    )


def list_promotion_codes(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    *,
    coupon_id: UUID | None = None,
    limit: int,
    starting_after: UUID | str | None,
) -> tuple[list[dict[str, Any]], bool]:
    # Each promotion code shows its coupon.
    select = sql.SQL(
        "SELECT t.summary || jsonb_build_object('coupon', c.summary) AS summary, "
        "t.created_at, t.updated_at FROM {p} t "
        "JOIN {c} c ON c.id = t.coupon_id AND c.project_id = t.project_id "
        "WHERE t.project_id = %s"
    ).format(p=table(schema, "promotion_codes"), c=table(schema, "coupons"))
    return list_resources(
        pool,
        schema,
        "promotion_codes",
        project_id,
        [("coupon_id", coupon_id)],
        limit=limit,
        starting_after=starting_after,
        select=select,
    )


def get_billing_settings(
    pool: ConnectionPool[Any], schema: str, project_id: UUID
) -> dict[str, Any] | None:
    return get_resource(pool, schema, "billing_settings", project_id, "TRUE", [])


def get_customer_billing(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, customer_id: UUID
) -> dict[str, Any] | None:
    return get_resource(
        pool, schema, "customer_billing", project_id, "t.customer_id = %s", [customer_id]
    )


def billing_without_collection(pool: ConnectionPool[Any], schema: str) -> list[dict[str, Any]]:
    """Projects with a subscription that bills (not canceled) or an open invoice, and no
    ``auto_charge_provider``: their invoices are never charged by Tally."""
    query = sql.SQL(
        "SELECT p.project_id AS id, p.name, "
        "(SELECT count(*) FROM {subs} s WHERE s.project_id = p.project_id "
        " AND s.status NOT IN ('canceled', 'incomplete_expired')) AS subscriptions, "
        "(SELECT count(*) FROM {invoices} i WHERE i.project_id = p.project_id "
        " AND i.status = 'open') AS open_invoices "
        "FROM {projects} p "
        "WHERE NOT EXISTS (SELECT 1 FROM {settings} b WHERE b.project_id = p.project_id "
        " AND coalesce(b.summary->>'auto_charge_provider', '') <> '') "
        "ORDER BY p.position, p.project_id"
    ).format(
        subs=table(schema, "subscriptions"),
        invoices=table(schema, "invoices"),
        projects=table(schema, "projects"),
        settings=table(schema, "billing_settings"),
    )
    rows = fetch_all(pool, query, [])
    return [r for r in rows if r["subscriptions"] or r["open_invoices"]]
