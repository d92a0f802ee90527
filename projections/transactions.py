"""Transactions: one row per transaction, and which wallets took part in each.

``transaction_accounts`` has a row per (wallet, transaction) for the wallets named in
``from``/``to``, so "the transactions of account X" is one indexed range scan in log
order. System accounts (``clearing:...``) are not indexed here; their movements are in
the journal.

Queries (both filter by project; another project's ids answer None / an empty list):

- ``get_transaction(pool, schema, project_id, transaction_id) -> dict | None``
- ``list_transactions(pool, schema, project_id, account_id, *, limit, starting_after)
  -> (list[dict], has_more)`` (``starting_after`` is a transaction id)

A transaction dict has the keys of ``Transaction.summary()`` (``id``, ``kind``,
``state``, ``amount``, ``currency``, ``from``, ``to``, ``reversed_amount``,
``description``, ``external_ref``, ``failure_reason``) plus ``created_at`` and
``updated_at`` (ISO 8601 strings).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql
from psycopg_pool import ConnectionPool

from projections import array_literals as literals
from projections import events as ev
from projections.base import ReadModel, Tracked, copy_rows, unnest_update
from projections.paging import fetch_all, fetch_one, fetch_page, plain
from projections.schema import table
from projections.statements import compiled

_COLUMNS = (
    "id",
    "project_id",
    "kind",
    "state",
    "amount",
    "currency",
    "from_ref",
    "to_ref",
    "reversed_amount",
    "description",
    "external_ref",
    "failure_reason",
    "created_at",
    "updated_at",
    "version",
    "position",
)
_TYPES = (
    "uuid",
    "uuid",
    "text",
    "text",
    "int8",
    "text",
    "text",
    "text",
    "int8",
    "text",
    "text",
    "text",
    "timestamptz",
    "timestamptz",
    "int4",
    "int8",
)
# Indexes into a new transaction's row, for later events in the same batch.
_STATE, _REVERSED, _REASON, _UPDATED, _VERSION = 3, 8, 11, 13, 14
_CHANGES = (ev.TransactionCompleted, ev.TransactionFailed, ev.TransactionReversed)


class Transactions(ReadModel):
    name = "transactions"
    deferrable = True  # its parameters and rows are built for the batch and left alone
    tables = ("transactions", "transaction_accounts")
    handles = frozenset({ev.TransactionInitiated, *_CHANGES})

    def apply(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        new: dict[UUID, list[Any]] = {}
        # For transactions created earlier: [state, failure_reason, reversed delta,
        # version, updated_at].
        changed: dict[UUID, list[Any]] = {}
        for event, position in events:
            kind = type(event)
            if kind is ev.TransactionInitiated:
                new[event.originator_id] = _new_row(event, position)
            elif kind in _CHANGES:
                row = new.get(event.originator_id)
                if row is not None:
                    _fold_new(row, event)
                else:
                    change = changed.setdefault(event.originator_id, [None, None, 0, 0, None])
                    _fold_change(change, event)
        if new:
            copy_rows(cur, self.t("transactions"), _COLUMNS, _TYPES, new.values())
            self._link_wallets(cur, list(new))
        items = list(changed.items())
        unnest_update(
            cur,
            self.t("transactions"),
            "state = u.state, failure_reason = coalesce(u.reason, t.failure_reason), "
            "reversed_amount = t.reversed_amount + u.reversed, version = u.version, "
            "updated_at = u.updated_at",
            "t.id = u.id",
            [
                ("id", "uuid"),
                ("state", "text"),
                ("reason", "text"),
                ("reversed", "int8"),
                ("version", "int4"),
                ("updated_at", "timestamptz"),
            ],
            [[k for k, _ in items], *([c[i] for _, c in items] for i in range(5))],
        )

    def _link_wallets(self, cur: Cursor[Any], ids: list[UUID]) -> None:
        """Index the new transactions under the wallets in their ``from`` and ``to``.

        Done in SQL from the rows just copied: it is set-based, and it runs on the database
        server's core instead of adding to the worker's Python time.
        """
        links, txns = self.t("transaction_accounts"), self.t("transactions")
        statement = compiled(
            cur,
            ("link_wallets", links, txns, "literal"),
            lambda: sql.SQL(
                "INSERT INTO {links} (account_id, transaction_id, project_id, position) "
                "SELECT DISTINCT substr(r.ref, 8)::uuid, t.id, t.project_id, t.position "
                "FROM {txns} t, LATERAL (VALUES (t.from_ref), (t.to_ref)) AS r(ref) "
                "WHERE t.id = ANY(%s::uuid[]) AND starts_with(r.ref, 'wallet:')"
            ).format(links=links, txns=txns),
        )
        cur.execute(statement, (literals.uuids(ids),))


def _new_row(e: Any, position: int) -> list[Any]:
    return [
        e.originator_id,
        e.project_id,
        e.kind,
        e.state,
        e.amount,
        e.currency,
        e.from_ref,
        e.to_ref,
        0,
        e.description,
        e.external_ref,
        "",
        e.timestamp,
        e.timestamp,
        e.originator_version,
        position,
    ]


def _fold_new(row: list[Any], e: Any) -> None:
    row[_STATE] = e.state
    row[_UPDATED] = e.timestamp
    row[_VERSION] = e.originator_version
    if type(e) is ev.TransactionFailed:
        row[_REASON] = e.reason
    elif type(e) is ev.TransactionReversed:
        row[_REVERSED] += e.amount


def _fold_change(change: list[Any], e: Any) -> None:
    change[0] = e.state
    change[3] = e.originator_version
    change[4] = e.timestamp
    if type(e) is ev.TransactionFailed:
        change[1] = e.reason
    elif type(e) is ev.TransactionReversed:
        change[2] += e.amount


_SELECT = (
    'SELECT t.id, t.kind, t.state, t.amount, t.currency, t.from_ref AS "from", '
    't.to_ref AS "to", t.reversed_amount, t.description, t.external_ref, '
    "t.failure_reason, t.created_at, t.updated_at FROM {t} t"
)


def get_transaction(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, transaction_id: UUID
) -> dict[str, Any] | None:
    query = sql.SQL(_SELECT + " WHERE t.project_id = %s AND t.id = %s").format(
        t=table(schema, "transactions")
    )
    row = fetch_one(pool, query, [project_id, transaction_id])
    return None if row is None else plain(row)


def list_transactions(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    account_id: UUID,
    *,
    limit: int,
    starting_after: UUID | None,
) -> tuple[list[dict[str, Any]], bool]:
    links = table(schema, "transaction_accounts")
    query = sql.SQL(
        _SELECT + " JOIN {links} a ON a.transaction_id = t.id "
        "WHERE a.account_id = %s AND a.project_id = %s AND t.project_id = %s"
    ).format(t=table(schema, "transactions"), links=links)
    params: list[Any] = [account_id, project_id, project_id]
    if starting_after is not None:
        query += sql.SQL(
            " AND (a.position, a.transaction_id) > (SELECT position, transaction_id "
            "FROM {links} WHERE account_id = %s AND project_id = %s AND transaction_id = %s)"
        ).format(links=links)
        params += [account_id, project_id, starting_after]
    query += sql.SQL(" ORDER BY a.position, a.transaction_id LIMIT %s")
    rows, has_more = fetch_page(pool, query, params, limit)
    return [plain(r) for r in rows], has_more


def stale_processing(
    pool: ConnectionPool[Any],
    schema: str,
    from_refs: Sequence[str],
    before: datetime,
    limit: int,
) -> list[tuple[UUID, UUID]]:
    """(project, transaction) of processing transactions from ``from_refs`` (a
    provider's clearing account) made before ``before``, oldest first: the checkouts
    ``commands/checkout_expiry.py`` may end."""
    query = sql.SQL(
        "SELECT project_id, id FROM {} WHERE state = 'processing' AND created_at < %s "
        "AND from_ref = ANY(%s) ORDER BY created_at, id LIMIT %s"
    ).format(table(schema, "transactions"))
    rows = fetch_all(pool, query, [before, list(from_refs), limit])
    return [(r["project_id"], r["id"]) for r in rows]
