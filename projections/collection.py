"""How Tally collects a customer's invoices, read from the read models (issue 11): with
no ``auto_charge_provider`` in the project's billing settings, or no payment method of
the customer at that provider, nothing charges the invoices Tally finalizes; they stay
open until paid out of band. The API shows this as ``collection`` (``auto_charge`` or
``none``) and ``collection_reason`` on subscriptions and invoices, and the server logs
one warning at start for each project that bills without a way to collect.

Computed when read, not projected: it depends on the billing settings and the payment
methods, which change without an event of the subscription or invoice it is shown on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal
from uuid import UUID

from psycopg import sql
from psycopg_pool import ConnectionPool

from projections.paging import fetch_all
from projections.schema import table

Collection = Literal["auto_charge", "none"]
Reason = Literal["no_auto_charge_provider", "no_payment_method"]


def collection_of(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, customer_ids: Iterable[UUID]
) -> dict[UUID, tuple[Collection, Reason | None]]:
    """Each customer's collection and, when it is ``none``, why (two queries)."""
    customers = {UUID(str(c)) for c in customer_ids}
    provider = auto_charge_provider(pool, schema, project_id)
    if not provider:
        return {c: ("none", "no_auto_charge_provider") for c in customers}
    query = sql.SQL(
        "SELECT customer_id, summary FROM {} WHERE project_id = %s AND customer_id = ANY(%s)"
    ).format(table(schema, "payment_methods"))
    rows = fetch_all(pool, query, [project_id, list(customers)]) if customers else []
    able = {
        row["customer_id"]
        for row in rows
        if any(m.get("provider") == provider for m in row["summary"].get("data", []))
    }
    return {
        c: ("auto_charge", None) if c in able else ("none", "no_payment_method") for c in customers
    }


def auto_charge_provider(pool: ConnectionPool[Any], schema: str, project_id: UUID) -> str:
    query = sql.SQL(
        "SELECT summary->>'auto_charge_provider' AS provider FROM {} WHERE project_id = %s"
    ).format(table(schema, "billing_settings"))
    rows = fetch_all(pool, query, [project_id])
    return str(rows[0]["provider"] or "") if rows else ""


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
