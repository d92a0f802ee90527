"""Retired credit grants (issue 13): the ``credit_grants_retired`` read model.

A ``CreditBalance`` retires the grants that hold nothing and can no longer change
(``domain/credit_retirement.py``): ``Retired`` carries each as it ended and the
balance's state forgets it. This table keeps them, one row per grant with its
``seq`` (its order among the balance's grants), so ``GET /v1/credit_grants`` still lists
every grant a customer had, oldest first. The customer, currency and project come from
the balance's row, which ``projections.credits`` wrote earlier in the same batch.

- ``retired_grants(pool, schema, project_id, customer_id) -> {currency: [grant, ...]}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from projections import events as ev
from projections.base import ReadModel, Tracked
from projections.paging import fetch_all
from projections.schema import table

TABLE = "credit_grants_retired"


class RetiredCreditGrants(ReadModel):
    name = "credit_grants_retired"
    tables = (TABLE,)
    handles = frozenset({ev.CreditsRetired})
    reads = frozenset({"credits"})

    def apply(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        rows = [
            (event.originator_id, str(g["id"]), int(g["seq"]), Jsonb(g), position)
            for event, position in events
            if type(event) is ev.CreditsRetired
            for g in event.grants
        ]
        if not rows:
            return
        cur.execute(
            sql.SQL(
                "INSERT INTO {} (balance_id, grant_id, project_id, customer_id, currency, "
                "seq, grant_state, position) "
                "SELECT r.balance_id, r.grant_id, b.project_id, b.customer_id, b.currency, "
                "r.seq, r.grant_state, r.position "
                "FROM unnest(%s::uuid[], %s::text[], %s::int8[], %s::jsonb[], %s::int8[]) "
                "AS r(balance_id, grant_id, seq, grant_state, position) "
                "JOIN {} b ON b.id = r.balance_id"
            ).format(self.t(TABLE), self.t("credit_balances")),
            [list(column) for column in zip(*rows, strict=True)],
        )


def retired_grants(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, customer_id: UUID
) -> dict[str, list[dict[str, Any]]]:
    """The customer's retired grants per currency, oldest first."""
    rows = fetch_all(
        pool,
        sql.SQL(
            "SELECT currency, grant_state FROM {} WHERE project_id = %s AND customer_id = %s "
            "ORDER BY currency, seq"
        ).format(table(schema, TABLE)),
        [project_id, customer_id],
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(str(row["currency"]), []).append(dict(row["grant_state"]))
    return found
