"""Integration events: the ``integration_events`` read model, the outbox every destination
(webhooks today, brokers later) reads from, and its queries.

One row per domain event that has a public type (``projections.integration_catalog``):
its log position (the key, and the order every destination delivers in), project, type,
the kind and id of the object, the object as the API's read of it answered once the
batch holding the event was applied (``object``: the read model's row, the same dict the
GET route validates), and the time of the underlying event. The row is written in the
same transaction as the tracking position, so each event is there exactly once; a
delivery worker reads rows by project and position and never touches the event store.

The object is read from the other read models' rows, so this model runs after them
(``PROJECTIONS`` order) and stops with them (``reads``). It holds what they hold at the
end of the event's batch: when one object changes several times in one batch (a burst,
or catching up after downtime), an earlier event's object may already show a later
change. The type and position of each event are exact.

Queries:

- ``events_after(pool, schema, project_id, after, limit) -> list[dict]``: the project's
  rows with positions after ``after``, in log order.
- ``head_of(pool, schema, project_id) -> int``: the position of its latest row (0: none).
- ``all_events_after(pool, schema, after, limit) -> list[dict]``: every project's rows
  after ``after``, in log order (what a broker gets).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from projections.aggregates import as_resource
from projections.base import ReadModel, Tracked, copy_rows
from projections.integration_catalog import (
    LOOKS_UP_INVOICE,
    MAPPED_CLASSES,
    OBJECT_OF,
    integration_type,
)
from projections.paging import fetch_all, plain
from projections.schema import table

TABLE = "integration_events"
COLUMNS = ("position", "project_id", "type", "object_kind", "object_id", "object", "occurred_at")
TYPES = ("int8", "uuid", "text", "text", "uuid", "jsonb", "timestamptz")

# How each kind of object is read back: the columns its GET route reads, plus the
# project (events do not all carry it), by id.
_SUMMARY = "SELECT t.id, t.project_id, t.summary, t.created_at, t.updated_at FROM {t} t "
_LOADERS: dict[str, tuple[str, str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "customer": ("customers", _SUMMARY + "WHERE t.id = ANY(%s)", as_resource),
    "subscription": ("subscriptions", _SUMMARY + "WHERE t.id = ANY(%s)", as_resource),
    "invoice": (
        "invoices",
        # The dunning fields laid over the summary, as ``projections.invoices`` reads it.
        "SELECT t.id, t.project_id, t.summary || coalesce(d.summary, '{{}}'::jsonb) "
        "AS summary, t.created_at, t.updated_at FROM {t} t LEFT JOIN {d} d "
        "ON d.invoice_id = t.id AND d.project_id = t.project_id WHERE t.id = ANY(%s)",
        as_resource,
    ),
    "account": (
        "accounts",
        "SELECT id, project_id, owner_ref, currency, status, ledger_balance, held_balance, "
        "available_balance, overdraft_limit, low_balance_threshold, version, metadata, "
        "created_at, updated_at FROM {t} WHERE id = ANY(%s)",
        plain,
    ),
    "transaction": (
        "transactions",
        'SELECT t.id, t.project_id, t.kind, t.state, t.amount, t.currency, t.from_ref AS "from", '
        't.to_ref AS "to", t.reversed_amount, t.description, t.external_ref, '
        "t.failure_reason, t.created_at, t.updated_at FROM {t} t WHERE t.id = ANY(%s)",
        plain,
    ),
}


def _rejection(event: Any) -> dict[str, Any]:
    """A refused broker command, as its event holds it (no read model keeps it)."""
    return {
        "id": event.originator_id,
        "message_id": event.message_id,
        "message_type": event.message_type,
        "queue": event.queue,
        "code": event.code,
        "detail": event.detail,
        "created_at": event.timestamp,
    }


# Objects the event itself carries whole: the row's object is built from it.
_FROM_EVENT: dict[str, Callable[[Any], dict[str, Any]]] = {"command_rejection": _rejection}


class IntegrationEvents(ReadModel):
    name = "integration_events"
    tables = (TABLE,)
    handles = MAPPED_CLASSES
    reads = frozenset({"customers", "subscriptions", "invoices", "accounts", "transactions"})

    def apply(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        picked: list[tuple[str, Any, int]] = []
        for event, position in events:
            name = integration_type(event)
            if name is not None:
                picked.append((name, event, position))
        if not picked:
            return
        invoices = self._dunning_invoices(cur, [e for _, e, _ in picked])
        wanted: dict[str, set[UUID]] = {}
        ids: list[UUID] = []
        for name, event, _ in picked:
            object_id = invoices.get(event.originator_id, event.originator_id)
            ids.append(object_id)
            if OBJECT_OF[name] not in _FROM_EVENT:
                wanted.setdefault(OBJECT_OF[name], set()).add(object_id)
        objects = {kind: self._load(cur, kind, sorted(its)) for kind, its in wanted.items()}
        rows = []
        for (name, event, position), object_id in zip(picked, ids, strict=True):
            kind = OBJECT_OF[name]
            if kind in _FROM_EVENT:
                project_id, found = event.project_id, plain(_FROM_EVENT[kind](event))
            else:  # KeyError: a read model is behind
                project_id, found = objects[kind][object_id]
            rows.append(
                (position, project_id, name, kind, object_id, Jsonb(found), event.timestamp)
            )
        copy_rows(cur, self.t(TABLE), COLUMNS, TYPES, rows)

    def _dunning_invoices(self, cur: Cursor[Any], events: list[Any]) -> dict[UUID, UUID]:
        """The invoice of each dunning record among ``events``."""
        dunning = sorted({e.originator_id for e in events if type(e) in LOOKS_UP_INVOICE})
        if not dunning:
            return {}
        cur.execute(
            sql.SQL("SELECT id, invoice_id FROM {} WHERE id = ANY(%s)").format(
                self.t("invoice_dunning")
            ),
            (dunning,),
        )
        return {_get(r, "id", 0): _get(r, "invoice_id", 1) for r in cur.fetchall()}

    def _load(
        self, cur: Cursor[Any], kind: str, ids: list[UUID]
    ) -> dict[UUID, tuple[UUID, dict[str, Any]]]:
        name, query, shape = _LOADERS[kind]
        statement = sql.SQL(query).format(t=self.t(name), d=self.t("invoice_dunning"))
        columns: list[str] = []
        cur.execute(statement, (ids,))
        if cur.description is not None:
            columns = [c.name for c in cur.description]
        found: dict[UUID, tuple[UUID, dict[str, Any]]] = {}
        for raw in cur.fetchall():
            row = dict(raw) if isinstance(raw, dict) else dict(zip(columns, raw, strict=True))
            key, project_id = row["id"], row.pop("project_id")
            found[key] = (project_id, shape(row))
        return found


def _get(row: Any, key: str, index: int) -> Any:
    return row[key] if isinstance(row, dict) else row[index]


# -- queries -----------------------------------------------------------------------------


def events_after(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, after: int, limit: int
) -> list[dict[str, Any]]:
    """The project's integration events after position ``after``, in log order."""
    query = sql.SQL(
        "SELECT position, project_id, type, object_kind, object_id, object, occurred_at "
        "FROM {} WHERE project_id = %s AND position > %s ORDER BY position LIMIT %s"
    ).format(table(schema, TABLE))
    return fetch_all(pool, query, [project_id, after, limit])


def head_of(pool: ConnectionPool[Any], schema: str, project_id: UUID) -> int:
    """The position of the project's latest integration event (0: none yet)."""
    query = sql.SQL("SELECT coalesce(max(position), 0) AS head FROM {} WHERE project_id = %s")
    rows = fetch_all(pool, query.format(table(schema, TABLE)), [project_id])
    return int(rows[0]["head"])


def all_events_after(
    pool: ConnectionPool[Any], schema: str, after: int, limit: int
) -> list[dict[str, Any]]:
    """Every project's integration events after position ``after``, in log order (a
    broker gets all projects' events: ``adapters.broker_publisher``)."""
    query = sql.SQL(
        "SELECT position, project_id, type, object_kind, object_id, object, occurred_at "
        "FROM {} WHERE position > %s ORDER BY position LIMIT %s"
    ).format(table(schema, TABLE))
    return fetch_all(pool, query, [after, limit])
