"""Reading the ``payment_objects`` read model (``projections.payment_objects``): one
payment, a page of them, (the object as GET answers it).

Every query filters by project: another project's id answers None, or an empty page.
Lists are ordered by ``(position, id)`` like every list (``projections.paging``).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg_pool import ConnectionPool

from projections.paging import fetch_one, fetch_page, plain
from projections.schema import table

# The object's fields, in the order GET answers them, as SQL over the row ``t``.
FIELDS = (
    "id", "customer_id", "invoice_id", "transaction_id", "method", "amount",
    "amount_refunded", "currency", "status", "provider", "reference", "failure_code",
    "failure_message",
)  # fmt: skip
_COLUMNS = ", ".join("t." + f for f in (*FIELDS, "created_at", "updated_at"))
_SELECT = "SELECT " + _COLUMNS + " FROM {t} t"


def get_payment(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, payment_id: UUID
) -> dict[str, Any] | None:
    query = sql.SQL(_SELECT + " WHERE t.project_id = %s AND t.id = %s").format(
        t=table(schema, "payment_objects")
    )
    row = fetch_one(pool, query, [project_id, payment_id])
    return None if row is None else plain(row)


def list_payments(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    *,
    customer_id: UUID | None = None,
    invoice_id: UUID | None = None,
    status: str | None = None,
    limit: int,
    starting_after: UUID | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    t = table(schema, "payment_objects")
    query = sql.SQL(_SELECT + " WHERE t.project_id = %s").format(t=t)
    params: list[Any] = [project_id]
    for column, value in (("customer_id", customer_id), ("invoice_id", invoice_id),
                          ("status", status)):  # fmt: skip
        if value is not None:
            query += sql.SQL(" AND {} = %s").format(sql.Identifier("t", column))
            params.append(value)
    if starting_after is not None:
        query += sql.SQL(
            " AND (t.position, t.id) > (SELECT position, id FROM {t} "
            "WHERE project_id = %s AND id = %s)"
        ).format(t=t)
        params += [project_id, starting_after]
    query += sql.SQL(" ORDER BY t.position, t.id LIMIT %s")
    rows, has_more = fetch_page(pool, query, params, limit)
    return [plain(r) for r in rows], has_more
