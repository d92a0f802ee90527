"""Entitlements: what a customer may use right now, for an auth service to ask.

``entitlements(pool, schema, project_id, customer_id) -> dict`` with

- ``customer_id``;
- ``plans``: ``{"code", "name", "subscription_id", "status"}`` for each product that an
  item of one of the customer's ``trialing``, ``active`` or ``past_due`` subscriptions
  is priced by (oldest subscription first, then by code);
- ``features``: every feature of those products, sorted, once;
- ``seats``: product code to the total quantity of those items.

A ``past_due`` subscription still grants (the customer is in the payment grace period);
``paused``, ``canceled``, ``unpaid``, ``incomplete`` and ``incomplete_expired`` do not.
Products and their features are read as they are now, so revising a plan's features
changes what its subscribers get, and an archived product still grants to the
subscriptions it has.

There is no table of its own: one indexed query joins the ``subscriptions``, ``prices``
and ``products`` read models (a customer has a handful of subscriptions). Codes are
ordered bytewise (``COLLATE "C"``), as Python orders them: ``api/as_of_reads.py`` and
``billing.entitlements.changed`` (``projections.entitlement_changes``) build the same
answer with ``entitlements_answer`` from rows they order in Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg_pool import ConnectionPool

from domain.subscription_states import ACTIVE, PAST_DUE, TRIALING
from projections.paging import fetch_all
from projections.schema import table

GRANTING = (TRIALING, ACTIVE, PAST_DUE)


def entitlements(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, customer_id: UUID
) -> dict[str, Any]:
    query = sql.SQL(
        "SELECT s.id AS subscription_id, s.status, p.code, p.summary->>'name' AS name, "
        "p.summary->'features' AS features, (i->>'quantity')::int AS quantity "
        "FROM {s} s CROSS JOIN LATERAL jsonb_array_elements(s.summary->'items') AS i "
        "JOIN {pr} pr ON pr.project_id = s.project_id AND pr.id = (i->>'price_id')::uuid "
        "JOIN {p} p ON p.project_id = s.project_id AND p.id = pr.product_id "
        "WHERE s.project_id = %s AND s.customer_id = %s AND s.status = ANY(%s) "
        'ORDER BY s.position, s.id, p.code COLLATE "C"'
    ).format(
        s=table(schema, "subscriptions"), pr=table(schema, "prices"), p=table(schema, "products")
    )
    rows = fetch_all(pool, query, [project_id, customer_id, list(GRANTING)])
    return entitlements_answer(str(customer_id), rows)


def entitlements_answer(customer_id: str, rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The answer from rows of ``{subscription_id, status, code, name, features,
    quantity}``, one per item of a granting subscription, in the order of the query
    above (subscription position and id, product code): also what an ``as_of`` read
    builds from the aggregates at a position (``api/as_of.py``)."""
    plans: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    features: set[str] = set()
    seats: dict[str, int] = {}
    for row in rows:
        subscription_id = str(row["subscription_id"])
        if (subscription_id, row["code"]) not in seen:
            seen.add((subscription_id, row["code"]))
            plans.append(
                {
                    "code": row["code"],
                    "name": row["name"],
                    "subscription_id": subscription_id,
                    "status": row["status"],
                }
            )
        features.update(row["features"])
        seats[row["code"]] = seats.get(row["code"], 0) + int(row["quantity"])
    return {
        "customer_id": customer_id,
        "plans": plans,
        "features": sorted(features),
        "seats": seats,
    }
