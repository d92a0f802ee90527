"""Holds: one row per hold placed on a wallet, for listing and for the expiry sweeper.

A hold is ``active`` until it is ``captured`` (``captured_amount`` and the capture's
``transaction_id`` are set), ``voided`` or ``expired``. The hold events do not carry the
project or currency; they come from the ``accounts`` read model, which the runner
applies first in the same transaction.

Queries (every one filters by project except ``due_holds``, which serves the sweeper):

- ``get_hold(pool, schema, project_id, account_id, hold_id) -> dict | None``
- ``list_holds(pool, schema, project_id, account_id, *, status=None, limit,
  starting_after) -> (list[dict], has_more)`` (``starting_after`` is a hold id)
- ``due_holds(pool, schema, now, limit) -> list[(project_id, account_id)]``: accounts
  with an active hold whose ``expires_at <= now``, each once.

A hold dict has the keys of the write side's hold responses (``id``, ``account_id``,
``amount``, ``currency``, ``status``, ``captured_amount``, ``destination``,
``expires_at``) plus ``transaction_id`` (the capture, or None), ``created_at`` and
``updated_at``; datetimes are ISO 8601 strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql
from psycopg_pool import ConnectionPool

from projections import events as ev
from projections.base import ReadModel, Tracked, copy_rows, rows_of, unnest_update
from projections.paging import fetch_all, fetch_one, fetch_page, plain
from projections.schema import table

_STATUS: dict[type, str] = {
    ev.HoldCaptured: "captured",
    ev.HoldVoided: "voided",
    ev.HoldExpired: "expired",
}
_COLUMNS = (
    "account_id",
    "hold_id",
    "project_id",
    "currency",
    "amount",
    "expires_at",
    "destination",
    "status",
    "captured_amount",
    "transaction_id",
    "created_at",
    "updated_at",
    "position",
)
_TYPES = (
    "uuid",
    "text",
    "uuid",
    "text",
    "int8",
    "timestamptz",
    "text",
    "text",
    "int8",
    "uuid",
    "timestamptz",
    "timestamptz",
    "int8",
)
# Indexes into a new hold's row, for settling a hold placed in the same batch.
_STATUS_AT, _CAPTURED_AT, _TXN_AT, _UPDATED_AT = 7, 8, 9, 11


class Holds(ReadModel):
    name = "holds"
    tables = ("holds",)
    reads = frozenset({"accounts"})  # a new hold's project and currency
    handles = frozenset({ev.HoldPlaced, *_STATUS})

    def apply(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        new: dict[tuple[UUID, str], list[Any]] = {}
        settled: dict[tuple[UUID, str], tuple[str, int | None, UUID | None, datetime]] = {}
        for event, position in events:
            kind = type(event)
            key = (event.originator_id, getattr(event, "hold_id", ""))
            if kind is ev.HoldPlaced:
                new[key] = [
                    *key,
                    None,
                    None,
                    event.amount,
                    event.expires_at,
                    event.destination,
                    "active",
                    0,
                    None,
                    event.timestamp,
                    event.timestamp,
                    position,
                ]
            elif kind in _STATUS:
                captured = event.amount if kind is ev.HoldCaptured else None
                txn = event.transaction_id if kind is ev.HoldCaptured else None
                row = new.get(key)
                if row is None:
                    settled[key] = (_STATUS[kind], captured, txn, event.timestamp)
                else:
                    row[_STATUS_AT] = _STATUS[kind]
                    row[_CAPTURED_AT] = captured or 0
                    row[_TXN_AT] = txn
                    row[_UPDATED_AT] = event.timestamp
        if new:
            self._fill_owner(cur, new)
            copy_rows(cur, self.t("holds"), _COLUMNS, _TYPES, new.values())
        self._settle(cur, settled)

    def _fill_owner(self, cur: Cursor[Any], new: dict[tuple[UUID, str], list[Any]]) -> None:
        """Project and currency of each new hold, from the accounts read model."""
        cur.execute(
            sql.SQL("SELECT id, project_id, currency FROM {} WHERE id = ANY(%s)").format(
                self.t("accounts")
            ),
            (list({account_id for account_id, _ in new}),),
        )
        owners = {account_id: (project, currency) for account_id, project, currency in rows_of(cur)}
        for (account_id, hold_id), row in new.items():
            owner = owners.get(account_id)
            if owner is None:
                raise LookupError(f"hold {hold_id}: account {account_id} is not projected")
            row[2], row[3] = owner

    def _settle(
        self,
        cur: Cursor[Any],
        settled: dict[tuple[UUID, str], tuple[str, int | None, UUID | None, datetime]],
    ) -> None:
        items = list(settled.items())
        unnest_update(
            cur,
            self.t("holds"),
            "status = u.status, captured_amount = coalesce(u.captured, t.captured_amount), "
            "transaction_id = coalesce(u.txn, t.transaction_id), updated_at = u.updated_at",
            "t.account_id = u.account_id AND t.hold_id = u.hold_id",
            [
                ("account_id", "uuid"),
                ("hold_id", "text"),
                ("status", "text"),
                ("captured", "int8"),
                ("txn", "uuid"),
                ("updated_at", "timestamptz"),
            ],
            [
                [k[0] for k, _ in items],
                [k[1] for k, _ in items],
                [v[0] for _, v in items],
                [v[1] for _, v in items],
                [v[2] for _, v in items],
                [v[3] for _, v in items],
            ],
        )


_SELECT = (
    "SELECT hold_id AS id, account_id, amount, currency, status, captured_amount, "
    "destination, expires_at, transaction_id, created_at, updated_at "
    "FROM {t} WHERE project_id = %s AND account_id = %s"
)


def get_hold(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, account_id: UUID, hold_id: str
) -> dict[str, Any] | None:
    query = sql.SQL(_SELECT + " AND hold_id = %s").format(t=table(schema, "holds"))
    row = fetch_one(pool, query, [project_id, account_id, str(hold_id)])
    return None if row is None else plain(row)


def list_holds(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    account_id: UUID,
    *,
    status: str | None = None,
    limit: int,
    starting_after: str | UUID | None,
) -> tuple[list[dict[str, Any]], bool]:
    query = sql.SQL(_SELECT).format(t=table(schema, "holds"))
    params: list[Any] = [project_id, account_id]
    if status is not None:
        query += sql.SQL(" AND status = %s")
        params.append(status)
    if starting_after is not None:
        query += sql.SQL(
            " AND (position, hold_id) > (SELECT position, hold_id FROM {t} "
            "WHERE project_id = %s AND account_id = %s AND hold_id = %s)"
        ).format(t=table(schema, "holds"))
        params += [project_id, account_id, str(starting_after)]
    query += sql.SQL(" ORDER BY position, hold_id LIMIT %s")
    rows, has_more = fetch_page(pool, query, params, limit)
    return [plain(r) for r in rows], has_more


def due_holds(
    pool: ConnectionPool[Any], schema: str, now: datetime, limit: int
) -> list[tuple[UUID, UUID]]:
    """Accounts (with their project) holding an active hold due at ``now``."""
    query = sql.SQL(
        "SELECT DISTINCT project_id, account_id FROM {t} "
        "WHERE status = 'active' AND expires_at <= %s LIMIT %s"
    ).format(t=table(schema, "holds"))
    rows = fetch_all(pool, query, [now, limit])
    return [(r["project_id"], r["account_id"]) for r in rows]
