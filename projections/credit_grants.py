"""Retired credit grants (issue 13): the ``credit_grants_retired`` read model.

A ``CreditBalance`` retires the grants that hold nothing and can no longer change
(``domain/credit_retirement.py``): ``Retired`` carries each as it ended and the
balance's state forgets it. This table keeps them, one row per grant with its
``seq`` (its order among the balance's grants), so ``GET /v1/credit_grants`` still lists
every grant a customer had, oldest first. The customer, currency and project come from
the balance's row, which ``projections.credits`` wrote earlier in the same batch.

- ``retired_page(pool, schema, project_id, customer_id, after, limit)``: the customer's
  retired grants after ``(currency, seq)`` (or from the first), in that order, as
  ``(currency, grant)``: a keyset page on the table's index, so a page costs its size,
  not the customer's history.
- ``retired_key(pool, schema, project_id, customer_id, balance_id, grant_id)``: that
  grant's ``(currency, seq)``, a page's cursor (None: not a retired grant of theirs).
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


def retired_page(  # the page's bounds, each named
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    customer_id: UUID,
    after: tuple[str, int] | None,
    limit: int,
) -> list[tuple[str, dict[str, Any]]]:
    """At most ``limit`` of the customer's retired grants after ``after``, in
    ``(currency, seq)`` order."""
    where = sql.SQL("")
    params: list[Any] = [project_id, customer_id]
    if after is not None:
        where = sql.SQL(" AND (currency, seq) > (%s, %s)")
        params += [after[0], after[1]]
    rows = fetch_all(
        pool,
        sql.SQL(
            "SELECT currency, grant_state FROM {} WHERE project_id = %s AND customer_id = %s"
            "{} ORDER BY currency, seq LIMIT %s"
        ).format(table(schema, TABLE), where),
        [*params, limit],
    )
    return [(str(row["currency"]), dict(row["grant_state"])) for row in rows]


def retired_key(  # the grant's ids, each named
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    customer_id: UUID,
    balance_id: UUID,
    grant_id: str,
) -> tuple[str, int] | None:
    found = fetch_all(
        pool,
        sql.SQL(
            "SELECT currency, seq FROM {} WHERE balance_id = %s AND grant_id = %s "
            "AND project_id = %s AND customer_id = %s"
        ).format(table(schema, TABLE)),
        [balance_id, grant_id, project_id, customer_id],
    )
    return (str(found[0]["currency"]), int(found[0]["seq"])) if found else None
