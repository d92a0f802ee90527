"""System account balances: every posting ref that is not a wallet, per project and currency.

System accounts (``clearing:<source>``, ``receivable:<customer>``, ``revenue``,
``tax_payable:<rate>``, ``customer_credit:<customer>``, ``credit_adjustments`` and any
others the journal names, from every event in ``journal.POSTING_EVENTS``) have no
aggregate: they exist only here, derived from journal postings, so they are never a
write hot spot. Signs follow the postings (money deposited from ``clearing:stripe``
makes its balance negative; the wallet's positive).

Query (filters by project):

- ``list_system_accounts(pool, schema, project_id) -> list[{account, currency, balance}]``
  ordered by account then currency.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql
from psycopg_pool import ConnectionPool

from projections import array_literals as literals
from projections.base import ReadModel, Tracked
from projections.journal import POSTING_EVENTS, entry_sources
from projections.paging import fetch_all
from projections.statements import compiled


class SystemAccounts(ReadModel):
    name = "system_accounts"
    deferrable = True  # its parameters and rows are built for the batch and left alone
    tables = ("system_accounts",)
    reads = frozenset({"transactions", "invoices", "billing_setup", "credits"})  # entry_sources
    handles = POSTING_EVENTS

    def apply(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        deltas: dict[tuple[UUID, str, str], int] = {}
        for event, _, project_id, currency, _ in entry_sources(cur, self.schema, events):
            for posting in event.entry:
                account = posting["account"]
                if not account.startswith("wallet:"):
                    key = (project_id, account, currency)
                    deltas[key] = deltas.get(key, 0) + posting["amount"]
        if not deltas:
            return
        keys = list(deltas)
        target = self.t("system_accounts")
        statement = compiled(
            cur,
            ("system_accounts", target, "literals"),
            lambda: sql.SQL(
                "INSERT INTO {t} AS s (project_id, account, currency, balance) "
                "SELECT * FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::int8[]) "
                "ON CONFLICT (project_id, account, currency) "
                "DO UPDATE SET balance = s.balance + EXCLUDED.balance"
            ).format(t=target),
        )
        cur.execute(
            statement,
            (  # array literals: no psycopg dumper per element (projections.array_literals)
                literals.uuids([k[0] for k in keys]),
                literals.texts([k[1] for k in keys]),
                literals.texts([k[2] for k in keys]),
                literals.integers([deltas[k] for k in keys]),
            ),
        )


def list_system_accounts(
    pool: ConnectionPool[Any], schema: str, project_id: UUID
) -> list[dict[str, Any]]:
    query = sql.SQL(
        "SELECT account, currency, balance FROM {}.system_accounts "
        "WHERE project_id = %s ORDER BY account, currency"
    ).format(sql.Identifier(schema))
    return fetch_all(pool, query, [project_id])
