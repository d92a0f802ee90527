"""Which subscriptions have usage thresholds (issue 13, progressive billing): the
``usage_thresholds`` read model, one row per subscription whose ``UsageBilling`` has
thresholds set, with its customer, so that usage ingestion finds in one indexed query
which of a batch's customers' subscriptions to check after a write
(``api/usage_thresholds.py``). A subscription whose thresholds are removed keeps its row
with an empty list.

Query: ``thresholds_of(pool, schema, project_id, customers) -> list[(subscription_id,
customer_id)]``, those with at least one threshold.

``UsageLedgers`` keeps each ``UsageBilling`` (``usage_billing``, one row per
subscription that billed usage or has thresholds, kept by ``projections.aggregates``) so
that the upcoming invoice's preview rates the period as the renewal will: from where
the last billed period ended, less what threshold invoices billed of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from psycopg import Cursor
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from domain.usage_billing import UsageBilling
from projections.aggregates import AggregateModel, Kind
from projections.base import ReadModel, Tracked, rows_of
from projections.schema import table

TABLE = "usage_thresholds"
_ledger: Any = UsageBilling
ThresholdsSet: Any = _ledger.ThresholdsSet
LEDGER_EVENTS = frozenset(
    {_ledger.Started, _ledger.Billed, ThresholdsSet, _ledger.ProgressiveBilled}
)


class UsageLedgers(AggregateModel):
    name = "usage_ledgers"
    kinds = (
        Kind(
            aggregate=UsageBilling,
            table="usage_billing",
            events=LEDGER_EVENTS,
            columns=(("subscription_id", "uuid"),),
            values=lambda ledger, _: (ledger.subscription_id,),
            summary=lambda ledger: ledger.summary(),
        ),
    )


class UsageThresholds(ReadModel):
    name = "usage_thresholds"
    tables = (TABLE,)
    handles = frozenset({ThresholdsSet})

    def apply(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        for event, position in events:
            if type(event) is not ThresholdsSet:
                continue
            cur.execute(
                f"INSERT INTO {self.t(TABLE).as_string(cur)} (id, project_id, customer_id, "
                "thresholds, position) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) "
                "DO UPDATE SET thresholds = EXCLUDED.thresholds",
                [UUID(event.subscription_id), UUID(event.project_id), UUID(event.customer_id),
                 Jsonb(list(event.thresholds)), position],
            )  # fmt: skip


def thresholds_of(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, customers: Iterable[UUID]
) -> list[tuple[UUID, UUID]]:
    with pool.connection() as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT id, customer_id FROM {table(schema, TABLE).as_string(cur)} "
            "WHERE project_id = %s AND customer_id = ANY(%s) AND thresholds <> '[]'::jsonb",
            [project_id, list(set(customers))],
        )
        return [(UUID(str(r[0])), UUID(str(r[1]))) for r in rows_of(cur)]
