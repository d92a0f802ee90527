"""Invoices: the ``invoices``, ``invoice_dunning`` and ``credit_notes`` read models, their
queries, and the due invoice work the scheduler asks for.

One ``invoices`` row per invoice and one ``invoice_dunning`` row per dunning record
(``projections.aggregates``: each aggregate's state folded by the domain's own event
methods, and its summary). An invoice's row keeps ``Invoice.summary()`` without dunning;
a query lays the dunning row's fields (``domain.invoices.dunning_fields``: attempt count,
next attempt, dunning state) over it, so a read answers exactly what
``commands.invoice_common.invoice_summary(invoice, dunning)`` answers. One
``credit_notes`` row per credit note, written from ``Invoice.Credited``: the note as the
invoice keeps it plus ``invoice_id``, ``customer_id`` and ``currency``.

Queries (every one filters by project except ``due_invoice_work``, which serves the
scheduler across projects; lists are in log order, ``starting_after`` is the previous
page's last id and an unknown or foreign one gives an empty page):

- ``get_invoice(pool, schema, project_id, invoice_id) -> dict | None``: the keys of
  ``invoice_summary`` plus ``created_at`` and ``updated_at``.
- ``list_invoices(pool, schema, project_id, *, customer_id=None, subscription_id=None,
  status=None, period_from=None, period_to=None, limit, starting_after)
  -> (list[dict], has_more)``. The period filters compare ``period_at``: the invoice's
  ``period_start`` when it has a period (subscription invoices), else the time it was
  drafted (one-time invoices); ``period_from`` is inclusive, ``period_to`` exclusive.
- ``list_credit_notes(pool, schema, project_id, *, invoice_id=None, customer_id=None,
  limit, starting_after) -> (list[dict], has_more)``: each the note (``id``, ``amount``,
  ``reason``, ``refund_to``, ``payment_id``, ``refunded_to``, ``at``) plus
  ``invoice_id``, ``customer_id``, ``currency`` and ``created_at``.
- ``due_invoice_work(pool, schema, now, limit) -> list[(project_id, customer_id,
  version)]``: customers whose ``CustomerBilling`` has work due at or before ``now``
  (a delayed finalization or a payment retry), soonest first, leaving out customers on
  a test clock (their clock moves them); ``version`` is the billing record's version
  the read model has seen (an idempotency key for the scheduler's command).

How Tally collects a customer's invoices (issue 11), the ``collection`` (``auto_charge``
or ``none``) and ``collection_reason`` the API shows on invoices and subscriptions: with
no ``auto_charge_provider`` in the project's billing settings, or no payment method of
the customer at that provider, nothing charges the invoices Tally finalizes; they stay
open until paid out of band. Computed when read (``collection_of``, ``with_collection``;
``collected_one`` and ``collected_page`` wrap a query), not projected: it depends on the
billing settings and the payment methods, which change without an event of the invoice
or subscription it is shown on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from domain.dunning import InvoiceDunning
from domain.invoices import Invoice, dunning_fields
from projections import events as ev
from projections.aggregates import AggregateModel, Kind, as_resource
from projections.base import Tracked, copy_rows, rows_of
from projections.paging import check_limit, fetch_all, fetch_one, fetch_page, plain
from projections.schema import table

TABLE = "invoices"
DUNNING_TABLE = "invoice_dunning"
NOTES_TABLE = "credit_notes"


def _invoice_summary(invoice: Any) -> dict[str, Any]:
    summary: dict[str, Any] = invoice.summary()
    return summary


def _invoice_values(invoice: Any, _: dict[str, Any]) -> tuple[Any, ...]:
    return (
        invoice.customer_id,
        invoice.subscription_id,
        invoice.status,
        invoice.number or None,
        invoice.currency,
        invoice.period_start or invoice.created_on,
    )


class Invoices(AggregateModel):
    name = "invoices"
    kinds = (
        Kind(
            aggregate=Invoice,
            table=TABLE,
            events=frozenset(
                {
                    ev.InvoiceCreated,
                    ev.InvoiceLineAdded,
                    ev.InvoiceLineRemoved,
                    ev.InvoiceCouponApplied,
                    ev.InvoiceFinalized,
                    ev.InvoicePaymentRecorded,
                    ev.InvoiceVoided,
                    ev.InvoiceMarkedUncollectible,
                    ev.InvoiceCredited,
                }
            ),
            columns=(
                ("customer_id", "uuid"),
                ("subscription_id", "uuid"),
                ("status", "text"),
                ("number", "text"),
                ("currency", "text"),
                ("period_at", "timestamptz"),
            ),
            values=_invoice_values,
            summary=_invoice_summary,
        ),
        Kind(
            aggregate=InvoiceDunning,
            table=DUNNING_TABLE,
            events=frozenset(
                {
                    ev.DunningStarted,
                    ev.DunningPaymentFailed,
                    ev.DunningRecovered,
                    ev.DunningStopped,
                    ev.DunningReminder,
                }
            ),
            columns=(("invoice_id", "uuid"), ("next_attempt_at", "timestamptz")),
            values=lambda d, _: (d.invoice_id, d.next_attempt_at),
            summary=dunning_fields,
        ),
    )

    def apply(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        super().apply(cur, events)
        credited = [(e, p) for e, p in events if type(e) is ev.InvoiceCredited]
        if credited:
            self._credit_notes(cur, credited)

    def _credit_notes(self, cur: Cursor[Any], credited: list[Tracked]) -> None:
        """One row per note; the invoice's facts come from the rows ``apply`` just wrote."""
        cur.execute(
            sql.SQL(
                "SELECT id, project_id, customer_id, currency FROM {} WHERE id = ANY(%s)"
            ).format(self.t(TABLE)),
            (list({e.originator_id for e, _ in credited}),),
        )
        facts = {row[0]: row[1:] for row in rows_of(cur)}
        rows = []
        for event, position in credited:
            project_id, customer_id, currency = facts[event.originator_id]
            note = event.note
            rows.append(
                (
                    project_id,
                    note["id"],
                    event.originator_id,
                    customer_id,
                    currency,
                    note["amount"],
                    note["refund_to"],
                    Jsonb(note),
                    event.timestamp,
                    position,
                )
            )
        copy_rows(
            cur,
            self.t(NOTES_TABLE),
            (
                "project_id",
                "id",
                "invoice_id",
                "customer_id",
                "currency",
                "amount",
                "refund_to",
                "note",
                "created_at",
                "position",
            ),
            (
                "uuid",
                "text",
                "uuid",
                "uuid",
                "text",
                "int8",
                "text",
                "jsonb",
                "timestamptz",
                "int8",
            ),
            rows,
        )


# -- queries -----------------------------------------------------------------------------


def _select(schema: str) -> sql.Composed:
    """Invoices with their dunning fields laid over the stored summary."""
    return sql.SQL(
        "SELECT t.summary || coalesce(d.summary, '{{}}'::jsonb) AS summary, "
        "t.created_at, t.updated_at FROM {i} t "
        "LEFT JOIN {d} d ON d.invoice_id = t.id AND d.project_id = t.project_id "
        "WHERE t.project_id = %s"
    ).format(i=table(schema, TABLE), d=table(schema, DUNNING_TABLE))


def get_invoice(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, invoice_id: UUID
) -> dict[str, Any] | None:
    row = fetch_one(pool, _select(schema) + sql.SQL(" AND t.id = %s"), [project_id, invoice_id])
    return None if row is None else as_resource(row)


def list_invoices(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    *,
    customer_id: UUID | None = None,
    subscription_id: UUID | None = None,
    status: str | None = None,
    period_from: datetime | None = None,
    period_to: datetime | None = None,
    limit: int,
    starting_after: UUID | str | None,
) -> tuple[list[dict[str, Any]], bool]:
    check_limit(limit)
    query = _select(schema)
    params: list[Any] = [project_id]
    conditions: tuple[tuple[sql.SQL, Any], ...] = (
        (sql.SQL(" AND t.customer_id = %s"), customer_id),
        (sql.SQL(" AND t.subscription_id = %s"), subscription_id),
        (sql.SQL(" AND t.status = %s"), status),
        (sql.SQL(" AND t.period_at >= %s"), period_from),
        (sql.SQL(" AND t.period_at < %s"), period_to),
    )
    for condition, value in conditions:
        if value is not None:
            query += condition
            params.append(value)
    if starting_after is not None:
        after = _uuid(starting_after)
        if after is None:
            return [], False
        query += sql.SQL(
            " AND (t.position, t.id) > "
            "(SELECT position, id FROM {} WHERE project_id = %s AND id = %s)"
        ).format(table(schema, TABLE))
        params += [project_id, after]
    query += sql.SQL(" ORDER BY t.position, t.id LIMIT %s")
    rows, has_more = fetch_page(pool, query, params, limit)
    return [as_resource(r) for r in rows], has_more


def list_credit_notes(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    *,
    invoice_id: UUID | None = None,
    customer_id: UUID | None = None,
    limit: int,
    starting_after: str | None,
) -> tuple[list[dict[str, Any]], bool]:
    check_limit(limit)
    notes = table(schema, NOTES_TABLE)
    query = sql.SQL(
        "SELECT note, invoice_id, customer_id, currency, created_at FROM {} WHERE project_id = %s"
    ).format(notes)
    params: list[Any] = [project_id]
    if invoice_id is not None:
        query += sql.SQL(" AND invoice_id = %s")
        params.append(invoice_id)
    if customer_id is not None:
        query += sql.SQL(" AND customer_id = %s")
        params.append(customer_id)
    if starting_after is not None:
        query += sql.SQL(
            " AND (position, id) > (SELECT position, id FROM {} WHERE project_id = %s AND id = %s)"
        ).format(notes)
        params += [project_id, str(starting_after)]
    query += sql.SQL(" ORDER BY position, id LIMIT %s")
    rows, has_more = fetch_page(pool, query, params, limit)
    return [{**r.pop("note"), **plain(r)} for r in rows], has_more


def due_invoice_work(
    pool: ConnectionPool[Any], schema: str, now: datetime, limit: int
) -> list[tuple[UUID, UUID, int]]:
    """Customers on the system clock with invoice work due at ``now``, soonest first."""
    assert limit > 0, limit
    query = sql.SQL(
        "SELECT b.project_id, b.customer_id, b.version FROM {b} b "
        "JOIN {c} c ON c.id = b.customer_id AND c.project_id = b.project_id "
        "WHERE b.next_due_at <= %s AND c.test_clock_id IS NULL "
        "ORDER BY b.next_due_at, b.id LIMIT %s"
    ).format(b=table(schema, "customer_billing"), c=table(schema, "customers"))
    rows = fetch_all(pool, query, [now, limit])
    return [(r["project_id"], r["customer_id"], int(r["version"])) for r in rows]


def _uuid(value: UUID | str) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None


# -- collection ----------------------------------------------------------------------------

Collection = Literal["auto_charge", "none"]
Reason = Literal["no_auto_charge_provider", "no_payment_method"]
Row = dict[str, Any]


def collection_of(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, customer_ids: Iterable[UUID]
) -> dict[UUID, tuple[Collection, Reason | None]]:
    """Each customer's collection and, when it is ``none``, why (two queries)."""
    customers = {UUID(str(c)) for c in customer_ids}
    query = sql.SQL(
        "SELECT summary->>'auto_charge_provider' AS provider FROM {} WHERE project_id = %s"
    ).format(table(schema, "billing_settings"))
    settings = fetch_all(pool, query, [project_id])
    provider = str(settings[0]["provider"] or "") if settings else ""
    methods: dict[UUID, Row | None] = dict.fromkeys(customers)
    if provider and customers:
        query = sql.SQL(
            "SELECT customer_id, summary FROM {} WHERE project_id = %s AND customer_id = ANY(%s)"
        ).format(table(schema, "payment_methods"))
        rows = fetch_all(pool, query, [project_id, list(customers)])
        methods.update({row["customer_id"]: row["summary"] for row in rows})
    return collection_from(provider, methods)


def collection_from(
    provider: str, methods: dict[UUID, Row | None]
) -> dict[UUID, tuple[Collection, Reason | None]]:
    """Each customer's collection from the project's auto-charge provider and the
    summary of the customer's payment methods (None: none): also what an ``as_of`` read
    applies to them as they were then (``api/as_of_reads.py``)."""
    if not provider:
        return {c: ("none", "no_auto_charge_provider") for c in methods}
    able = {
        c
        for c, summary in methods.items()
        if summary and any(m.get("provider") == provider for m in summary.get("data", []))
    }
    return {
        c: ("auto_charge", None) if c in able else ("none", "no_payment_method") for c in methods
    }


def with_collection(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, rows: Sequence[Row]
) -> list[Row]:
    """``rows`` (each with a ``customer_id``) with their customer's collection added."""
    found = collection_of(pool, schema, project_id, {UUID(str(r["customer_id"])) for r in rows})
    collected = []
    for row in rows:
        collection, reason = found[UUID(str(row["customer_id"]))]
        collected.append({**row, "collection": collection, "collection_reason": reason})
    return collected


def collected_one(query: Callable[..., Row | None]) -> Callable[..., Row | None]:
    """``query`` (a read model's get) answering its row with the collection fields."""

    def collected(pool: Any, schema: str, project_id: UUID, *keys: Any) -> Row | None:
        row = query(pool, schema, project_id, *keys)
        return None if row is None else with_collection(pool, schema, project_id, [row])[0]

    return collected


def collected_page(
    query: Callable[..., tuple[Sequence[Row], bool]],
) -> Callable[..., tuple[Sequence[Row], bool]]:
    """``query`` (a read model's list) answering its rows with the collection fields."""

    def collected(
        pool: Any, schema: str, project_id: UUID, *keys: Any, **filters: Any
    ) -> tuple[Sequence[Row], bool]:
        rows, has_more = query(pool, schema, project_id, *keys, **filters)
        return with_collection(pool, schema, project_id, rows), has_more

    return collected
