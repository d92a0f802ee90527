"""Integration events: the ``integration_events`` read model, the outbox every destination
(webhooks today, brokers later) reads from, and its queries.

One row per domain event that has a public type (``projections.integration_catalog``),
one per payment whose outcome an event changed (``billing.payment.*``, derived by
the ``payment_objects`` read model at that event's position, ordinal 1), and one per
customer whose entitlement set an event changed (``billing.entitlements.changed``,
derived by the ``entitlement_changes`` read model at that event's position, ordinals 1,
2, ...; no event changes both a payment and a set, ``tests/unit/test_integration_catalog``):
its log position and ordinal (the key, and the order every destination delivers in: the
recorded event's own row has ordinal 0, the events derived at the same position 1, 2,
...), project, type,
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

Queries (``after``: a destination's (position, ordinal) cursor, or a bare position for
after every row at it):

- ``events_after(pool, schema, project_id, after, limit) -> list[dict]``: the project's
  rows after ``after``, in (position, ordinal) order.
- ``event_at(pool, schema, project_id, position, ordinal) -> dict | None``: one row
  (a redelivery's).
- ``head_of(pool, schema, project_id) -> int``: the position of its latest row (0: none).
- ``all_events_after(pool, schema, after, limit) -> list[dict]``: every project's rows
  after ``after``, in (position, ordinal) order (what a broker gets).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from projections import array_literals as literals
from projections.api_keys import EVENTS_TABLE
from projections.base import ReadModel, Tracked, copy_rows
from projections.entitlement_changes import CHANGES
from projections.entitlement_changes import HANDLES as ENTITLEMENT_EVENTS
from projections.integration_catalog import (
    DECIDED_PER_EVENT,
    ENTITLEMENTS_CHANGED,
    LOOKS_UP_INVOICE,
    MAPPED_CLASSES,
    OBJECT_OF,
    TYPE_OF_CLASS,
    integration_type,
)
from projections.integration_objects import OBJECTS, PLACEHOLDER, TABLE_OF
from projections.paging import fetch_all, plain
from projections.payment_objects import PaymentObjects
from projections.pipeline import expect_rows
from projections.schema import table
from projections.statements import compiled

TABLE = "integration_events"
COLUMNS = (
    "position", "ordinal", "project_id", "type", "object_kind", "object_id", "object",
    "occurred_at",
)  # fmt: skip
TYPES = ("int8", "int4", "uuid", "text", "text", "uuid", "jsonb", "timestamptz")
# How many missing objects a stall's message names (it says how many there are in all).
NAMED_MISSING = 3


# A payment's event is derived at the position of the fact that changed it, after that
# position's own event (an invoice payment is also billing.invoice.paid, a charge's
# transaction billing.transaction.completed).
PAYMENT_ORDINAL = 1


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


_PAYMENT_EVENTS = PaymentObjects.handles

# Objects the event itself carries whole: the row's object is built from it.
_FROM_EVENT: dict[str, Callable[[Any], dict[str, Any]]] = {"command_rejection": _rejection}


class ObjectMissing(LookupError):
    """An event's object has no row in its read model: that read model is behind."""


class IntegrationEvents(ReadModel):
    name = "integration_events"
    deferrable = True  # its parameters and rows are built for the batch and left alone
    tables = (TABLE,)
    handles = MAPPED_CLASSES | PaymentObjects.handles | ENTITLEMENT_EVENTS
    reads = frozenset(
        {"customers", "subscriptions", "invoices", "accounts", "transactions", "payment_objects",
         "credits", CHANGES}
    )  # fmt: skip

    def apply(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        """One ``INSERT ... SELECT`` per kind of object: the rows' positions, types, ids
        and times go in as arrays, and Postgres builds each object from its read model's
        row and writes it, so no row comes back to Python to be shaped and encoded. Then
        the payments' and the entitlement sets' changes the batch's events made."""
        payments: list[Tracked] = []
        entitled: list[int] = []
        picked: list[tuple[str, Any, int]] = []
        # One pass over the batch (it was three): most events are of none of the first
        # two sets and have a type that does not depend on the event.
        for item in events:
            event, position = item
            cls = type(event)
            if cls in _PAYMENT_EVENTS:
                payments.append(item)
            if cls in ENTITLEMENT_EVENTS:
                entitled.append(position)
            name = TYPE_OF_CLASS.get(cls)
            if name is not None and (cls not in DECIDED_PER_EVENT or integration_type(event)):
                picked.append((name, event, position))
        self._payments(cur, payments)
        self._entitlements(cur, entitled)
        if not picked:
            return
        invoices = self._dunning_invoices(cur, [e for _, e, _ in picked])
        by_kind: dict[str, tuple[list[int], list[str], list[UUID], list[Any]]] = {}
        carried: list[tuple[Any, ...]] = []
        for name, event, position in picked:
            kind = OBJECT_OF[name]
            if kind in _FROM_EVENT:
                found = Jsonb(plain(_FROM_EVENT[kind](event)))
                row = (position, 0, event.project_id, name, kind, event.originator_id, found)
                carried.append((*row, event.timestamp))
                continue
            arrays = by_kind.setdefault(kind, ([], [], [], []))
            arrays[0].append(position)
            arrays[1].append(name)
            # A dunning record's object is its invoice (``UUID.__hash__`` is Python: no
            # look-up when the batch has none).
            oid = event.originator_id
            arrays[2].append(invoices.get(oid, oid) if invoices else oid)
            arrays[3].append(event.timestamp)
        if by_kind:
            self._insert(cur, by_kind)
        copy_rows(cur, self.t(TABLE), COLUMNS, TYPES, carried)

    def _object(self, kind: str) -> str:
        """The SQL that builds an object of ``kind`` from its row, or, in a replay's
        scratch copy, an empty one: replay never compares the object (it depends on the
        batches, ``Table.uncompared``), and building it was about half of a replay's
        database time. The row is still joined, so a missing object stops replay too."""
        return PLACEHOLDER if self.rebuilding else OBJECTS[kind][1]

    def _insert(self, cur: Cursor[Any], by_kind: Mapping[str, Sequence[list[Any]]]) -> None:
        """One statement for every kind in the batch: a ``SELECT`` per kind, joined by
        ``UNION ALL`` (a deposit's batch has accounts and transactions: one round trip
        fewer for the live worker's small batches). Each kind's arrays go in its own
        ``unnest``; the statement is kept per set of kinds (in name order)."""
        kinds = tuple(sorted(by_kind))  # one statement per set of kinds, whatever the order
        target = self.t(TABLE)

        def build() -> sql.Composed:
            selects = sql.SQL(" UNION ALL ").join(self._select(kind) for kind in kinds)
            return (
                sql.SQL(
                    "INSERT INTO {} (position, ordinal, project_id, type, object_kind, "
                    "object_id, object, occurred_at) "
                ).format(target)
                + selects
            )

        # The kinds decide the joins and the objects; the table, the schema (a scratch
        # copy's is ``pg_temp``, which only rebuilding models write to).
        key = ("integration_events", target, kinds, self.rebuilding)
        params: list[str] = []
        for kind in kinds:
            positions, types, ids, times = by_kind[kind]
            params += (
                literals.integers(positions), literals.names(types),
                literals.uuids(ids), literals.times(times),
            )  # fmt: skip
        cur.execute(compiled(cur, key, build), params)
        expect_rows(cur, sum(len(by_kind[k][0]) for k in kinds), partial(self._why, by_kind))

    def _why(
        self, by_kind: Mapping[str, Sequence[list[Any]]], cur: Cursor[Any], found: int
    ) -> ObjectMissing:
        """Why fewer rows than the batch's objects were written (checked by
        ``expect_rows`` when the statement has run: now, or in the pipeline's thread)."""
        for kind in sorted(by_kind):
            missing = self._missing(cur, kind, by_kind[kind][2])
            if missing:
                return ObjectMissing(missing)
        return ObjectMissing(f"{found} of the batch's objects were found")

    def _select(self, kind: str) -> sql.Composed:
        """The rows of one kind: its arrays joined to its read model's rows."""
        joins, built = OBJECTS[kind][0], self._object(kind)
        return sql.SQL(
            "SELECT u.position, 0, t.project_id, u.type, {kind}, u.id, "
            + built
            + ", u.occurred_at FROM unnest(%s::int8[], %s::text[], %s::uuid[], "
            "%s::timestamptz[]) AS u(position, type, id, occurred_at) "
            "JOIN {t} t ON t.id = u.id" + joins
        ).format(kind=sql.Literal(kind), t=self.t(TABLE_OF[kind]), d=self.t("invoice_dunning"))

    def _entitlements(self, cur: Cursor[Any], positions: list[int]) -> None:
        """The ``billing.entitlements.changed`` events of the batch: the changes the
        ``entitlement_changes`` read model recorded at its positions, carrying the set."""
        if not positions:
            return
        cur.execute(
            sql.SQL(
                "INSERT INTO {ie} (position, ordinal, project_id, type, object_kind, "
                "object_id, object, occurred_at) SELECT position, ordinal, project_id, "
                "%s, 'entitlements', customer_id, entitlements, occurred_at FROM {c} "
                "WHERE position BETWEEN %s AND %s"
            ).format(ie=self.t(TABLE), c=self.t(CHANGES)),
            (ENTITLEMENTS_CHANGED, min(positions), max(positions)),
        )

    def _payments(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        """The ``billing.payment.*`` events of the batch: one per position the payment
        read model recorded a change at (``payment_changes``), carrying the payment."""
        if not events:
            return
        target = self.t(TABLE)

        def build() -> sql.Composed:
            built = self._object("payment")
            return sql.SQL(
                "INSERT INTO {ie} (position, ordinal, project_id, type, object_kind, "
                "object_id, object, occurred_at) SELECT c.position, {ordinal}, t.project_id, "
                "c.type, 'payment', t.id, " + built + ", u.occurred_at "
                "FROM unnest(%b::int8[], %b::timestamptz[]) AS u(position, occurred_at) "
                "JOIN {c} c ON c.position = u.position JOIN {t} t ON t.id = c.payment_id"
            ).format(
                ie=target,
                ordinal=sql.Literal(PAYMENT_ORDINAL),
                c=self.t("payment_changes"),
                t=self.t("payment_objects"),
            )

        key = ("integration_events", target, "payment_changes", self.rebuilding)
        statement = compiled(cur, key, build)
        cur.execute(statement, [[p for _, p in events], [e.timestamp for e, _ in events]])

    def _missing(self, cur: Cursor[Any], kind: str, ids: list[UUID]) -> str | None:
        """Why the batch stops: how many of its objects of ``kind`` have no row, and the
        first ``NAMED_MISSING`` of them. The message is logged and stored with the stall,
        and a catch-up batch holds thousands of ids: it names a few, never all."""
        cur.execute(
            sql.SQL(
                "SELECT DISTINCT u.id FROM unnest(%b::uuid[]) AS u(id) "
                "WHERE NOT EXISTS (SELECT 1 FROM {t} t WHERE t.id = u.id) ORDER BY u.id"
            ).format(t=self.t(TABLE_OF[kind])),
            [ids],
        )
        missing = [str(_get(r, "id", 0)) for r in cur.fetchall()]
        if not missing:
            return None
        named = ", ".join(missing[:NAMED_MISSING])
        more = f" and {len(missing) - NAMED_MISSING} more" if len(missing) > NAMED_MISSING else ""
        return f"{len(missing)} {kind} object(s) not in their read model yet: {named}{more}"

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


def _get(row: Any, key: str, index: int) -> Any:
    return row[key] if isinstance(row, dict) else row[index]


# -- queries -----------------------------------------------------------------------------

# Where a destination is in the outbox: the (position, ordinal) of the last row it has.
# A bare position means after every row at that position.
After = int | tuple[int, int]
LAST_ORDINAL = 2**31 - 1
# Each row with ``hash``: the chain hash (docs/audit.md) of the stored event at its
# position, hex, read from the event table by its primary key, so an envelope carries
# what ``tally audit verify`` recomputes there (a derived row, ordinal 1 and up, carries
# the hash of the event it derives from). The event table is in the read models' schema.
_SELECTED = (
    "SELECT i.position, i.ordinal, i.project_id, i.type, i.object_kind, i.object_id, "
    "i.object, i.occurred_at, encode(e.hash, 'hex') AS hash "
)
_JOINED = "{} i LEFT JOIN {} e ON e.notification_id = i.position "


def _from(schema: str) -> sql.Composed:
    return sql.SQL("FROM " + _JOINED).format(table(schema, TABLE), table(schema, EVENTS_TABLE))


def cursor_of(after: After) -> tuple[int, int]:
    """``after`` as a (position, ordinal) pair."""
    if isinstance(after, tuple):
        return int(after[0]), int(after[1])
    return int(after), LAST_ORDINAL


def events_after(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, after: After, limit: int
) -> list[dict[str, Any]]:
    """The project's integration events after ``after``, in outbox order."""
    query = sql.SQL(
        _SELECTED + "{} WHERE i.project_id = %s AND (i.position, i.ordinal) > (%s, %s) "
        "ORDER BY i.position, i.ordinal LIMIT %s"
    ).format(_from(schema))
    return fetch_all(pool, query, [project_id, *cursor_of(after), limit])


def event_at(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, position: int, ordinal: int
) -> dict[str, Any] | None:
    """The project's integration event at (``position``, ``ordinal``), if any."""
    query = sql.SQL(
        _SELECTED + "{} WHERE i.project_id = %s AND i.position = %s AND i.ordinal = %s"
    ).format(_from(schema))
    rows = fetch_all(pool, query, [project_id, position, ordinal])
    return rows[0] if rows else None


def head_of(pool: ConnectionPool[Any], schema: str, project_id: UUID) -> int:
    """The position of the project's latest integration event (0: none yet)."""
    query = sql.SQL("SELECT coalesce(max(position), 0) AS head FROM {} WHERE project_id = %s")
    rows = fetch_all(pool, query.format(table(schema, TABLE)), [project_id])
    return int(rows[0]["head"])


def all_events_after(
    pool: ConnectionPool[Any], schema: str, after: After, limit: int
) -> list[dict[str, Any]]:
    """Every project's integration events after ``after``, in outbox order (a broker gets
    all projects' events: ``adapters.broker_publisher``)."""
    query = sql.SQL(
        _SELECTED + "{} WHERE (i.position, i.ordinal) > (%s, %s) "
        "ORDER BY i.position, i.ordinal LIMIT %s"
    ).format(_from(schema))
    return fetch_all(pool, query, [*cursor_of(after), limit])
