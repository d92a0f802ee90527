"""What a payment answers once the provider charge it asked for was made: a query over
the ``invoices``, ``invoice_dunning``, ``provider_calls`` and ``subscriptions`` read
models. Nothing is written.

``PayInvoice`` and ``RetryInvoicePayment`` answer a provider charge as *pending*: the
outbox makes it after the command commits. The pay route makes it at once and answers
how it went, read here after the read models reached the position of the charge's
outcome (``api.calls.at_head``). The aggregates are rebuilt from the states those read
models keep (``projections.aggregates.load_aggregates``), in one snapshot, and answered
the way the commands answer them (``Invoice.summary`` with its dunning,
``domain.charge_attempts.charge_attempt``, ``Subscription.summary``, each with
``created``), so the answer is the command's, later.

Query:

- ``payment_state(pool, schema, project_id, invoice_id, attempt) -> dict | None``:
  ``{invoice, payment_attempt, subscription}`` with ``attempt`` (the command's
  ``payment_attempt``) replaced by its charge's state; None when the project has no
  such invoice.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from domain.charge_attempts import charge_attempt
from domain.dunning import InvoiceDunning
from domain.invoices import Invoice
from domain.provider_calls import ProviderCall
from domain.subscriptions import Subscription
from projections.aggregates import load_aggregates

_ID = "t.id = %s"


def payment_answer(
    invoice: Invoice,
    dunning: InvoiceDunning | None,
    attempt: dict[str, Any] | None,
    sub: Subscription | None,
) -> dict[str, Any]:
    """The body ``PayInvoice`` answers, from the aggregates it is made of."""
    return {
        "invoice": {**invoice.summary(dunning), "created": _created(invoice)},
        "payment_attempt": attempt,
        "subscription": None if sub is None else {**sub.summary(), "created": _created(sub)},
    }


def _created(aggregate: Invoice | Subscription) -> str:
    # As ``commands.created``: an answer's ``created`` is its first event's time.
    return str(aggregate.created_on.isoformat())


def payment_state(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    invoice_id: UUID,
    attempt: dict[str, Any] | None,
) -> dict[str, Any] | None:
    with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        found = load_aggregates(cur, schema, "invoices", Invoice, project_id, _ID, [invoice_id])
        if not found:
            return None
        invoice: Invoice = found[0]
        dunning = load_aggregates(
            cur,
            schema,
            "invoice_dunning",
            InvoiceDunning,
            project_id,
            _ID,
            [InvoiceDunning.create_id(invoice.id)],
        )
        call_id = (attempt or {}).get("provider_call_id")
        if attempt is not None and call_id:
            calls = load_aggregates(
                cur, schema, "provider_calls", ProviderCall, project_id, _ID, [UUID(str(call_id))]
            )
            if calls:
                attempt = charge_attempt(calls[0], int(attempt["attempt"]))
        subs = []
        if invoice.subscription_id is not None:
            subs = load_aggregates(
                cur,
                schema,
                "subscriptions",
                Subscription,
                project_id,
                _ID,
                [invoice.subscription_id],
            )
    return payment_answer(
        invoice, dunning[0] if dunning else None, attempt, subs[0] if subs else None
    )
