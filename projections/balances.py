"""Account balances: the ``accounts`` read model and its queries.

Balances follow the aggregate exactly: ``ledger_balance`` is every posted movement,
``held_balance`` the sum of active holds, ``available_balance = ledger - held``. A
captured, voided or expired hold releases its *whole* amount from ``held``; a capture
also takes the captured amount from ``ledger``. Column names match ``Account.summary()``
so that write responses and reads look alike.

Queries (every one filters by project; another project's account answers None):

- ``get_account(pool, schema, project_id, account_id) -> dict | None``
- ``list_accounts(pool, schema, project_id, *, limit, starting_after, owner_ref=None)
  -> (list[dict], has_more)``

Each account dict has the keys of ``Account.summary()`` (``id``, ``owner_ref``,
``currency``, ``status``, ``ledger_balance``, ``held_balance``, ``available_balance``,
``overdraft_limit``, ``low_balance_threshold``, ``version``) plus ``metadata``,
``created_at`` and ``updated_at`` (ISO 8601 strings). Ids are strings, money is integer minor units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from domain.accounts import CLOSED, FROZEN, OPEN
from projections import array_literals as literals
from projections import events as ev
from projections.base import ReadModel, Tracked, copy_rows, rows_of, unnest_update
from projections.paging import fetch_one, fetch_page, plain
from projections.schema import table

# Ledger movements and their sign; holds and lifecycle events are handled separately.
_LEDGER_SIGN: dict[type, int] = {
    ev.Deposited: 1,
    ev.TransferredIn: 1,
    ev.Withdrawn: -1,
    ev.TransferredOut: -1,
}
_STATUS: dict[type, str] = {ev.Frozen: FROZEN, ev.Unfrozen: OPEN, ev.Closed: CLOSED}
_RELEASES = (ev.HoldCaptured, ev.HoldVoided, ev.HoldExpired)
_HANDLED = frozenset(
    {
        ev.AccountOpened,
        ev.ReversalPosted,
        ev.HoldPlaced,
        ev.LowBalanceThresholdSet,
        ev.BalanceLow,  # changes no column but the version
        *_LEDGER_SIGN,
        *_STATUS,
        *_RELEASES,
    }
)

_COLUMNS = (
    "id",
    "project_id",
    "owner_ref",
    "currency",
    "status",
    "ledger_balance",
    "held_balance",
    "available_balance",
    "overdraft_limit",
    "metadata",
    "created_at",
    "updated_at",
    "version",
    "position",
    "low_balance_threshold",
)
_TYPES = (
    "uuid",
    "uuid",
    "text",
    "text",
    "text",
    "int8",
    "int8",
    "int8",
    "int8",
    "jsonb",
    "timestamptz",
    "timestamptz",
    "int4",
    "int8",
    "int8",
)


@dataclass
class _Change:
    """What a batch did to one account: deltas, and the latest status and version."""

    ledger: int = 0
    held: int = 0
    status: str | None = None
    version: int = 0
    updated_at: datetime | None = None
    opened: Any = None  # the Opened event, when the account was opened in this batch
    position: int = 0
    threshold_set: bool = False  # the low-balance threshold changed in this batch
    threshold: int | None = None


class AccountBalances(ReadModel):
    name = "accounts"
    deferrable = True  # its parameters and rows are built for the batch and left alone
    tables = ("accounts",)
    reads = frozenset({"holds"})  # the amount of a hold placed in an earlier batch
    handles = _HANDLED

    def apply(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        hold_amounts = self._hold_amounts(cur, events)
        changes: dict[UUID, _Change] = {}
        for event, position in events:
            kind = type(event)
            if kind is ev.AccountOpened:
                changes[event.originator_id] = _Change(opened=event, position=position)
            elif kind not in _HANDLED:
                continue
            change = changes.get(event.originator_id)
            if change is None:
                change = changes[event.originator_id] = _Change()
            _fold(change, event, hold_amounts)
        self._write(cur, changes)

    def _hold_amounts(self, cur: Cursor[Any], events: Sequence[Tracked]) -> dict[Any, int]:
        """Amounts of the holds this batch releases: from the batch or the holds table."""
        amounts: dict[Any, int] = {}
        wanted: list[tuple[UUID, str]] = []
        for event, _ in events:
            kind = type(event)
            if kind is ev.HoldPlaced:
                amounts[(event.originator_id, event.hold_id)] = event.amount
            elif kind in _RELEASES and (event.originator_id, event.hold_id) not in amounts:
                wanted.append((event.originator_id, event.hold_id))
        if wanted:
            cur.execute(
                sql.SQL(
                    "SELECT h.account_id, h.hold_id, h.amount FROM {} h JOIN "
                    "unnest(%b::uuid[], %b::text[]) AS u(a, h) "
                    "ON h.account_id = u.a AND h.hold_id = u.h"
                ).format(self.t("holds")),
                ([a for a, _ in wanted], [h for _, h in wanted]),
            )
            for account_id, hold_id, amount in rows_of(cur):
                amounts[(account_id, hold_id)] = amount
        return amounts

    def _write(self, cur: Cursor[Any], changes: dict[UUID, _Change]) -> None:
        new = [(k, c) for k, c in changes.items() if c.opened is not None]
        copy_rows(cur, self.t("accounts"), _COLUMNS, _TYPES, (_new_row(k, c) for k, c in new))
        old = [(k, c) for k, c in changes.items() if c.opened is None]
        unnest_update(
            cur,
            self.t("accounts"),
            "ledger_balance = t.ledger_balance + u.dl, held_balance = t.held_balance + u.dh, "
            "available_balance = t.available_balance + u.dl - u.dh, "
            "status = coalesce(u.status, t.status), version = u.version, "
            "updated_at = u.updated_at, low_balance_threshold = CASE WHEN u.ts "
            "THEN u.threshold ELSE t.low_balance_threshold END",
            "t.id = u.id",
            [
                ("id", "uuid"),
                ("dl", "int8"),
                ("dh", "int8"),
                ("status", "text"),
                ("version", "int4"),
                ("updated_at", "timestamptz"),
                ("ts", "bool"),
                ("threshold", "int8"),
            ],
            [old],
            literals=_literals(old),
        )


def _literals(old: list[tuple[UUID, _Change]]) -> list[str]:
    """The update's columns as array literals (``projections.array_literals``): psycopg's
    list dumper cost a drain of three deposits about 2,500 bytecodes for these arrays."""
    changes = [c for _, c in old]
    return [
        literals.uuids([k for k, _ in old]),
        literals.integers([c.ledger for c in changes]),
        literals.integers([c.held for c in changes]),
        literals.texts([c.status for c in changes]),
        literals.integers([c.version for c in changes]),
        literals.optional_times([c.updated_at for c in changes]),
        literals.booleans([c.threshold_set for c in changes]),
        literals.optional_integers([c.threshold for c in changes]),
    ]


def _fold(change: _Change, event: Any, hold_amounts: dict[Any, int]) -> None:
    kind = type(event)
    change.version = event.originator_version
    change.updated_at = event.timestamp
    if kind in _LEDGER_SIGN:
        change.ledger += _LEDGER_SIGN[kind] * event.amount
    elif kind is ev.ReversalPosted:
        change.ledger += event.delta
    elif kind is ev.HoldPlaced:
        change.held += event.amount
    elif kind in _RELEASES:
        amount = hold_amounts.get((event.originator_id, event.hold_id))
        if amount is None:
            # The domain only releases holds it placed; a missing one means the read
            # models are corrupt, and guessing would hide it.
            raise LookupError(f"hold {event.hold_id} of {event.originator_id} is not projected")
        change.held -= amount
        if kind is ev.HoldCaptured:
            change.ledger -= event.amount
    elif kind in _STATUS:
        change.status = _STATUS[kind]
    elif kind is ev.LowBalanceThresholdSet:
        change.threshold_set, change.threshold = True, event.threshold


def _new_row(account_id: UUID, c: _Change) -> tuple[Any, ...]:
    e = c.opened
    return (
        account_id,
        e.project_id,
        e.owner_ref,
        e.currency,
        c.status or OPEN,
        c.ledger,
        c.held,
        c.ledger - c.held,
        e.overdraft_limit,
        Jsonb(e.metadata),
        e.timestamp,
        c.updated_at,
        c.version,
        c.position,
        c.threshold if c.threshold_set else getattr(e, "low_balance_threshold", None),
    )


_SELECT = (
    "SELECT id, owner_ref, currency, status, ledger_balance, held_balance, "
    "available_balance, overdraft_limit, low_balance_threshold, version, metadata, "
    "created_at, updated_at FROM {t} WHERE project_id = %s"
)


def get_account(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, account_id: UUID
) -> dict[str, Any] | None:
    query = sql.SQL(_SELECT + " AND id = %s").format(t=table(schema, "accounts"))
    row = fetch_one(pool, query, [project_id, account_id])
    return None if row is None else plain(row)


def list_accounts(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    *,
    limit: int,
    starting_after: UUID | None,
    owner_ref: str | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    query = sql.SQL(_SELECT).format(t=table(schema, "accounts"))
    params: list[Any] = [project_id]
    if owner_ref is not None:
        query += sql.SQL(" AND owner_ref = %s")
        params.append(owner_ref)
    if starting_after is not None:
        query += sql.SQL(
            " AND (position, id) > (SELECT position, id FROM {t} WHERE project_id = %s AND id = %s)"
        ).format(t=table(schema, "accounts"))
        params += [project_id, starting_after]
    query += sql.SQL(" ORDER BY position, id LIMIT %s")
    rows, has_more = fetch_page(pool, query, params, limit)
    return [plain(r) for r in rows], has_more
