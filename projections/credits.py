"""Prepaid credits (issue 13): the ``credit_balances`` read model and its queries.

One row per customer and currency (``projections.aggregates``, the ``CreditBalance``
folded by its own event methods), its grants in the summary; typed columns
``customer_id``, ``currency``, ``balance`` (as recorded) and ``next_expiry_at`` (the
soonest expiry of a grant that still holds something: what the sweeper looks for).

Queries (every one filters by project; another project's customer answers nothing):

- ``balances_of(pool, schema, project_id, customer_id) -> list[dict]``: the customer's
  balances, one per currency, ``CreditBalance.summary()`` plus times.
- ``due_expiries(pool, schema, until, limit) -> list[(project_id, customer_id,
  currency)]``: balances with a grant expired by ``until`` and not yet recorded so, of
  customers on the real clock (a test clock's advance expires its customers' credits).
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
                    ev.CreditsRestored,
                    ev.CreditsRefunded,
                    ev.CreditsRetired,
                    ev.CreditsThresholdSet,
                    ev.CreditsLow,
                    ev.CreditsDepleted,
                    ev.CreditsTopUpRequested,
                    ev.CreditsTopUpFailed,
                    ev.CreditsPurchaseInvoiced,
                    ev.CreditsPurchaseCanceled,
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


def due_expiries(
    pool: ConnectionPool[Any], schema: str, until: datetime, limit: int
) -> list[tuple[UUID, UUID, str]]:
    # A customer on a test clock lives at the clock's time: its advance expires them.
    rows = fetch_all(
        pool,
        sql.SQL(
            "SELECT b.project_id, b.customer_id, b.currency FROM {} b JOIN {} c "
            "ON c.id = b.customer_id AND c.project_id = b.project_id "
            "WHERE b.next_expiry_at <= %s AND c.test_clock_id IS NULL "
            "ORDER BY b.next_expiry_at LIMIT %s"
        ).format(table(schema, TABLE), table(schema, "customers")),
        [until, limit],
    )
    return [(r["project_id"], r["customer_id"], r["currency"]) for r in rows]
