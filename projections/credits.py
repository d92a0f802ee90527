"""Prepaid credits (issue 13): the ``credit_balances`` read model and its queries.

One row per customer and currency (``projections.aggregates``, the ``CreditBalance``
folded by its own event methods), its grants in the summary; typed columns
``customer_id``, ``currency``, ``balance`` (as recorded) and ``next_expiry_at`` (the
soonest expiry of a grant that still holds something: what the sweeper looks for).

Queries (every one filters by project; another project's customer answers nothing):

- ``balances_of(pool, schema, project_id, customer_id) -> list[dict]``: the customer's
  balances, one per currency, ``CreditBalance.summary()`` plus times.
- ``grant_owner(pool, schema, project_id, grant_id) -> dict | None``: the balance
  that holds the grant (for a void by the grant's id).
- ``due_expiries(pool, schema, until, limit) -> list[(project_id, customer_id,
  currency)]``: balances with a grant expired by ``until`` and not yet recorded so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg_pool import ConnectionPool

from domain.credit_balance import CreditBalance
from projections import events as ev
from projections.aggregates import AggregateModel, Kind, as_resource
from projections.paging import fetch_all
from projections.schema import table

TABLE = "credit_balances"


def _summary(balance: Any) -> dict[str, Any]:
    summary: dict[str, Any] = balance.summary()
    return summary


def _values(balance: Any, summary: dict[str, Any]) -> tuple[Any, ...]:
    return (balance.customer_id, balance.currency, balance.total, balance.next_expiry())


class Credits(AggregateModel):
    name = "credits"
    kinds = (
        Kind(
            aggregate=CreditBalance,
            table=TABLE,
            events=frozenset(
                {
                    ev.CreditsOpened,
                    ev.CreditsGranted,
                    ev.CreditsConsumed,
                    ev.CreditsExpired,
                    ev.CreditsVoided,
                    ev.CreditsThresholdSet,
                    ev.CreditsLow,
                    ev.CreditsDepleted,
                    ev.CreditsTopUpRequested,
                }
            ),
            columns=(
                ("customer_id", "uuid"),
                ("currency", "text"),
                ("balance", "int8"),
                ("next_expiry_at", "timestamptz"),
            ),
            values=_values,
            summary=_summary,
        ),
    )


def balances_of(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, customer_id: UUID
) -> list[dict[str, Any]]:
    rows = fetch_all(
        pool,
        sql.SQL(
            "SELECT summary, created_at, updated_at FROM {} "
            "WHERE project_id = %s AND customer_id = %s ORDER BY currency"
        ).format(table(schema, TABLE)),
        [project_id, customer_id],
    )
    return [as_resource(row) for row in rows]


def grant_owner(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, grant_id: str
) -> dict[str, Any] | None:
    rows = fetch_all(
        pool,
        sql.SQL(
            "SELECT summary, created_at, updated_at FROM {} WHERE project_id = %s "
            "AND summary->'grants' @> jsonb_build_array(jsonb_build_object('id', %s::text)) "
            "LIMIT 1"
        ).format(table(schema, TABLE)),
        [project_id, grant_id],
    )
    return as_resource(rows[0]) if rows else None


def due_expiries(
    pool: ConnectionPool[Any], schema: str, until: datetime, limit: int
) -> list[tuple[UUID, UUID, str]]:
    rows = fetch_all(
        pool,
        sql.SQL(
            "SELECT project_id, customer_id, currency FROM {} "
            "WHERE next_expiry_at <= %s ORDER BY next_expiry_at LIMIT %s"
        ).format(table(schema, TABLE)),
        [until, limit],
    )
    return [(r["project_id"], r["customer_id"], r["currency"]) for r in rows]
