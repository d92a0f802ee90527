"""The public payment object (issue 12): the ``payment_objects`` read model and its queries.

One row per payment (``projections.payment_fold`` says what a payment is and how its
status moves), built from the facts of four aggregates as they were recorded:

- ``ProviderCall.Requested`` of a ``charge``: a new pending payment; its ``Succeeded``
  (``processing`` or ``succeeded``), ``Failed`` and ``PaymentNoted`` settle it;
- ``ProviderCall.Requested`` of a ``checkout`` that pays a ledger transaction (a sale or
  a wallet top-up, no invoice): a new pending payment that its transaction settles
  (the call's ``Succeeded`` only made the page; its ``Failed`` fails it);
- ``Transaction.Completed`` / ``Failed`` of a charge's or checkout's ledger transaction:
  a charge the provider answered ``processing`` and its webhook settled later, a
  checkout the customer paid (or abandoned: the provider's expiry fails it);
- ``Invoice.PaymentRecorded``: the invoice's side of a charge (which payment of the
  invoice it is), or a payment made another way (out of band, from a wallet, collected
  by the provider on its own), which is a new payment, succeeded at once;
- refunds: ``Transaction.Reversed`` of a provider payment's transaction, whoever asked
  for the refund (Tally's refund call that names the transaction, or a refund made in
  the provider's dashboard that its webhook reported); a provider ``refund`` call that
  names no transaction (a credit note's: the invoice and the provider's payment id)
  counts when it succeeded; a credit note's refund of a wallet or out-of-band payment
  (``Invoice.Credited``) at once.

``payment_refunds`` keeps each provider refund call of a known payment until it is
answered. ``payment_changes`` has one row per log position whose event emitted a public
payment event (``billing.payment.succeeded|failed|refunded``), which the
``integration_events`` read model turns into events.

Queries (project-scoped: another project's id answers None / an empty page):

- ``get_payment(pool, schema, project_id, payment_id) -> dict | None``
- ``list_payments(pool, schema, project_id, *, customer_id=None, invoice_id=None,
  status=None, limit, starting_after) -> (list[dict], has_more)``
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.rows import dict_row

from domain.provider_calls import ProviderCall
from projections import events as ev
from projections import payment_fold as fold
from projections.base import ReadModel, Tracked, copy_rows
from projections.payment_queries import get_payment, list_payments

__all__ = ["PaymentObjects", "get_payment", "list_payments"]

_call: Any = ProviderCall
CALL_EVENTS = (
    _call.Requested,
    _call.Succeeded,
    _call.Failed,
    _call.PaymentNoted,
    _call.RefundDecided,
)
TXN_EVENTS = (ev.TransactionCompleted, ev.TransactionFailed, ev.TransactionReversed)
INVOICE_EVENTS = (ev.InvoicePaymentRecorded, ev.InvoiceCredited)

COLUMNS = (
    "id", "project_id", "customer_id", "invoice_id", "transaction_id", "invoice_payment",
    "method", "amount", "amount_refunded", "currency", "status", "provider", "reference",
    "failure_code", "failure_message", "created_at", "updated_at", "position", "checkout",
)  # fmt: skip
_REFUND_COLUMNS = ("id", "project_id", "payment_id", "amount", "state", "position")
_CODE = re.compile(r"[a-z0-9_]{1,100}")


def _transaction_failure(reason: str) -> tuple[str | None, str]:
    """A failed transaction's reason as (code, message): ``card_declined`` or
    ``card_declined: the card was declined`` name their code first."""
    head = reason.split(":", 1)[0].strip()
    return (head if _CODE.fullmatch(head) else None), reason


class _Batch:
    """What one batch reads and changes: the rows it touches, found by id, transaction
    and invoice, the pending refunds, and the changes to emit."""

    def __init__(self) -> None:
        self.rows: dict[UUID, fold.Row] = {}
        self.dirty: set[UUID] = set()
        self.refunds: dict[UUID, dict[str, Any]] = {}
        self.dirty_refunds: set[UUID] = set()
        self.invoices: dict[UUID, dict[str, Any]] = {}
        self.changes: dict[int, tuple[UUID, UUID, str]] = {}

    # -- finding ---------------------------------------------------------------------------

    def by_transaction(self, txn_id: Any) -> fold.Row | None:
        if not txn_id:
            return None
        wanted = UUID(str(txn_id))
        return next((r for r in self.rows.values() if r["transaction_id"] == wanted), None)

    def by_invoice(
        self, invoice_id: UUID, statuses: Sequence[str] = fold.STATUSES, **match: Any
    ) -> fold.Row | None:
        """The invoice's payment in one of ``statuses`` whose columns match ``match``."""
        return next(
            (
                r
                for r in self.rows.values()
                if r["invoice_id"] == invoice_id
                and r["status"] in statuses
                and all(r[k] == v for k, v in match.items())
            ),
            None,
        )

    def touch(self, row: fold.Row, emitted: str | None, position: int) -> None:
        self.dirty.add(row["id"])
        if emitted is not None:
            self.changes[position] = (row["project_id"], row["id"], emitted)

    # -- folding ---------------------------------------------------------------------------

    def fold(self, event: Any, position: int) -> None:
        kind = type(event)
        if kind in CALL_EVENTS:
            self._call(event, position)
        elif kind in TXN_EVENTS:
            row = self.by_transaction(event.originator_id)
            if row is None or row["method"] != "provider":
                return
            if kind is ev.TransactionCompleted:
                self.touch(row, fold.settle(row, fold.SUCCEEDED, event.timestamp), position)
            elif kind is ev.TransactionReversed:
                # Money given back, whoever asked: Tally's refund call, or a refund made
                # in the provider's dashboard that its webhook reported (issue 12).
                self.touch(row, fold.refund(row, int(event.amount), event.timestamp), position)
            else:
                code, message = _transaction_failure(str(event.reason or ""))
                emitted = fold.settle(row, fold.FAILED, event.timestamp, code=code, message=message)
                self.touch(row, emitted, position)
        elif kind is ev.InvoicePaymentRecorded:
            self._invoice_paid(event, position)
        elif kind is ev.InvoiceCredited:
            self._credited(event, position)

    def _call(self, event: Any, position: int) -> None:
        kind, call_id = type(event), event.originator_id
        if kind is _call.Requested:
            self._requested(event, position)
            return
        row = self.rows.get(call_id)
        if row is not None:
            if kind is _call.Succeeded:
                self.touch(row, fold.call_answered(row, event.result, event.timestamp), position)
            elif kind is _call.Failed:
                emitted = fold.settle(
                    row, fold.FAILED, event.timestamp, code=event.code, message=event.detail
                )
                if emitted is None:
                    fold.note_failure(row, event.code, event.detail)
                self.touch(row, emitted, position)
            elif kind is _call.PaymentNoted:
                fold.note_reference(row, event.payment_ref)
                self.touch(row, None, position)
            return
        refund = self.refunds.get(call_id)
        if refund is None or refund["state"] != fold.PENDING or kind is _call.PaymentNoted:
            return
        succeeded = _refunded(event)
        if succeeded is None:
            return  # the provider holds it for review; its decision settles it
        refund["state"] = fold.SUCCEEDED if succeeded else fold.FAILED
        self.dirty_refunds.add(call_id)
        paid = self.rows.get(refund["payment_id"])
        if paid is not None and succeeded:
            self.touch(paid, fold.refund(paid, int(refund["amount"]), event.timestamp), position)

    def _requested(self, event: Any, position: int) -> None:
        params = event.params
        paying_checkout = event.operation == "checkout" and fold.is_paying_checkout(params)
        if event.operation == "charge" or paying_checkout:
            make = fold.checkout_row if paying_checkout else fold.charge_row
            row = make(
                event.originator_id, event.project_id, event.provider, params, event.timestamp
            )
            row["position"] = position
            self.rows[row["id"]] = row
            self.touch(row, None, position)
            return
        if event.operation != "refund":
            return
        paid = self.by_transaction(params.get("transaction_id"))
        if paid is not None and paid["method"] == "provider":
            return  # its transaction's reversal counts it, as any other refund's is
        if paid is None and params.get("invoice_id"):
            invoice_id = UUID(str(params["invoice_id"]))
            paid = self.by_invoice(invoice_id, reference=str(params.get("payment_ref") or ""))
        if paid is None:
            return  # a refund of a payment this model does not know
        self.refunds[event.originator_id] = {
            "id": event.originator_id,
            "project_id": event.project_id,
            "payment_id": paid["id"],
            "amount": int(params["amount_minor"]),
            "state": fold.PENDING,
            "position": position,
        }
        self.dirty_refunds.add(event.originator_id)

    def _invoice_paid(self, event: Any, position: int) -> None:
        payment, invoice_id = event.payment, event.originator_id
        txn_id = payment.get("transaction_id")
        row = self.by_transaction(txn_id)
        if row is None and not txn_id and payment.get("method") == "provider":
            # A charge recorded before charges had a transaction: the invoice's charge of
            # this amount that no payment of the invoice has claimed yet, and that did not
            # fail (an earlier attempt of the same amount may have).
            unfailed = (*fold.UNSETTLED, fold.SUCCEEDED)
            row = self.by_invoice(
                invoice_id, unfailed, invoice_payment=None, amount=payment["amount"]
            )
        if row is not None:
            row["invoice_payment"] = str(payment["id"])
            fold.note_reference(row, str(payment.get("reference") or ""))
            self.touch(row, fold.settle(row, fold.SUCCEEDED, event.timestamp), position)
            return
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            raise LookupError(f"invoice {invoice_id} is not in its read model yet")
        row = fold.invoice_payment_row(invoice, payment, event.timestamp)
        row["position"] = position
        self.rows[row["id"]] = row
        self.touch(row, fold.PAYMENT_SUCCEEDED, position)

    def _credited(self, event: Any, position: int) -> None:
        note = event.note
        if note.get("refund_to") != "original_payment" or not note.get("payment_id"):
            return
        row = self.by_invoice(event.originator_id, invoice_payment=str(note["payment_id"]))
        # A provider's payment is refunded when its refund call succeeds.
        if row is not None and row["method"] != "provider":
            self.touch(row, fold.refund(row, int(note["amount"]), event.timestamp), position)


class PaymentObjects(ReadModel):
    name = "payment_objects"
    tables = ("payment_objects", "payment_refunds", "payment_changes")
    handles = frozenset({*CALL_EVENTS, *TXN_EVENTS, *INVOICE_EVENTS})
    # A payment recorded by an invoice takes its project, customer and currency there.
    reads = frozenset({"invoices"})

    def apply(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        mine = [(e, p) for e, p in events if type(e) in self.handles]
        if not mine:
            return
        batch = self._load(cur, [e for e, _ in mine])
        for event, position in mine:
            batch.fold(event, position)
        self._write(cur, batch)

    def _load(self, cur: Cursor[Any], events: list[Any]) -> _Batch:
        """The rows the batch's events may touch (by id, transaction and invoice), the
        refund calls it may answer, and the invoices it may record payments of."""
        ids: set[UUID] = set()
        txns: set[UUID] = set()
        invoices: set[UUID] = set()
        for e in events:
            kind = type(e)
            if kind in CALL_EVENTS:
                ids.add(e.originator_id)
                params = getattr(e, "params", None) or {}
                if params.get("transaction_id"):
                    txns.add(UUID(str(params["transaction_id"])))
                if params.get("invoice_id") and e.operation == "refund":
                    invoices.add(UUID(str(params["invoice_id"])))
            elif kind in TXN_EVENTS:
                txns.add(e.originator_id)
            else:
                invoices.add(e.originator_id)
                if kind is ev.InvoicePaymentRecorded and e.payment.get("transaction_id"):
                    txns.add(UUID(str(e.payment["transaction_id"])))
        batch = _Batch()
        select = "SELECT " + ", ".join(COLUMNS) + " FROM {t} WHERE "
        with cur.connection.cursor(row_factory=dict_row) as dcur:
            if ids:
                dcur.execute(
                    sql.SQL("SELECT * FROM {} WHERE id = ANY(%s)").format(
                        self.t("payment_refunds")
                    ),
                    (list(ids),),
                )
                batch.refunds.update((r["id"], r) for r in dcur.fetchall())
            # The payments of the refund calls this batch may answer.
            ids |= {r["payment_id"] for r in batch.refunds.values()}
            for where, keys in (
                ("id = ANY(%s)", ids),
                ("transaction_id = ANY(%s)", txns),
                ("invoice_id = ANY(%s)", invoices),
            ):
                if keys:
                    query = sql.SQL(select + where).format(t=self.t("payment_objects"))
                    dcur.execute(query, (list(keys),))
                    batch.rows.update((r["id"], r) for r in dcur.fetchall())
            if invoices:
                dcur.execute(
                    sql.SQL(
                        "SELECT id, project_id, customer_id, currency FROM {} WHERE id = ANY(%s)"
                    ).format(self.t("invoices")),
                    (list(invoices),),
                )
                batch.invoices.update((r["id"], r) for r in dcur.fetchall())
        return batch

    def _write(self, cur: Cursor[Any], batch: _Batch) -> None:
        _upsert(cur, self.t("payment_objects"), COLUMNS, [batch.rows[i] for i in batch.dirty])
        refunds = [batch.refunds[i] for i in batch.dirty_refunds]
        _upsert(cur, self.t("payment_refunds"), _REFUND_COLUMNS, refunds)
        copy_rows(
            cur,
            self.t("payment_changes"),
            ("position", "project_id", "payment_id", "type"),
            ("int8", "uuid", "uuid", "text"),
            [(p, *change) for p, change in sorted(batch.changes.items())],
        )


def _upsert(
    cur: Cursor[Any], table: sql.Composable, columns: Sequence[str], rows: list[dict[str, Any]]
) -> None:
    """Insert the rows, or replace every column of the ones already there."""
    if not rows:
        return
    names = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    statement = sql.SQL(
        "INSERT INTO {t} ({names}) VALUES ({values}) ON CONFLICT (id) DO UPDATE SET {sets}"
    ).format(
        t=table,
        names=names,
        values=sql.SQL(", ").join(sql.Placeholder(c) for c in columns),
        sets=sql.SQL(", ").join(
            sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in columns[1:]
        ),
    )
    cur.executemany(statement, rows)


def _refunded(event: Any) -> bool | None:
    """Whether a refund call's event gave the money back (None: not decided yet, the
    provider holds the refund for review, ``pending_approval``)."""
    if isinstance(event, _call.Succeeded):
        return None if event.result.get("status") == "pending_approval" else True
    if isinstance(event, _call.RefundDecided):
        return bool(event.status == "succeeded")
    return False
