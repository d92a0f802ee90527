"""The invoice work that falls due (the scheduler's, and a test clock's advance).

``run_due`` does a customer's due invoice work up to a moment, in time order:
finalizing drafts whose time has come and retrying failed payments; the
``ProcessDueInvoices`` handler runs it for one customer now. ``InvoiceWork`` hands the
same work out piece by piece, so a test clock can put it in time order with its
subscriptions' steps. ``finalize_and_charge`` finalizes an invoice and charges it at once
when the project has an ``auto_charge_provider`` (a subscription's invoice made with no
finalize delay goes the same way: ``commands.subscription_invoices``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from commands import messages as m
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.invoice_charges import request_charge
from commands.invoice_common import settings_values
from commands.invoice_payments import retry_due_payment
from commands.invoicing import billing_for, finalize
from commands.now import now_for
from domain.customer_billing import CustomerBilling
from domain.customers import Customer
from domain.invoices import DRAFT, OPEN, Invoice


def finalize_and_charge(
    uow: UnitOfWork, ctx: Context, invoice: Invoice, now: datetime, values: dict[str, Any]
) -> None:
    finalize(uow, ctx, invoice, now)
    provider = values["auto_charge_provider"]
    if provider and invoice.status == OPEN and invoice.amount_remaining > 0:
        customer = uow.get(Customer, invoice.customer_id, ctx.project_id)
        amount = invoice.amount_remaining
        request_charge(uow, ctx, invoice, customer, provider, amount, now, retry=False)


def run_one(
    uow: UnitOfWork, ctx: Context, billing: CustomerBilling, invoice_id: UUID, at: datetime
) -> str | None:
    """The work due for one invoice at ``at``: finalize a draft, or retry a payment."""
    invoice = uow.get(Invoice, invoice_id, ctx.project_id)
    if invoice.status == DRAFT and invoice.finalize_at is not None and invoice.finalize_at <= at:
        finalize_and_charge(uow, ctx, invoice, at, settings_values(uow, ctx))
        return "invoice_finalized"
    customer = uow.get(Customer, invoice.customer_id, ctx.project_id)
    if retry_due_payment(uow, ctx, invoice, customer, at) is not None:
        return "payment_retried"
    billing.clear(invoice_id)  # nothing left to do for it (paid, voided, ...)
    return None


def run_due(
    uow: UnitOfWork, ctx: Context, customer_id: UUID, currency: str, until: datetime
) -> dict[str, int]:
    """Every piece of the customer's invoice work due by ``until``, in time order."""
    billing = uow.find(CustomerBilling, CustomerBilling.create_id(customer_id))
    counts: dict[str, int] = {}
    if billing is None:
        return counts
    for _ in range(10_000):
        due = billing.due_by(until)
        if not due:
            break
        at, invoice_id = due[0]
        done = run_one(uow, ctx, billing, invoice_id, at)
        if done is not None:
            counts[done] = counts.get(done, 0) + 1
    return counts


class InvoiceWork:
    """Hands out each customer's invoice work due by ``until`` once, so a test clock can
    put it in time order with its subscriptions' steps."""

    def __init__(self, uow: UnitOfWork, ctx: Context, until: datetime) -> None:
        self.uow, self.ctx, self.until = uow, ctx, until
        self.seen: set[tuple[UUID, datetime]] = set()

    def pending(self, customer_id: UUID) -> list[tuple[datetime, UUID]]:
        billing = self.uow.find(CustomerBilling, CustomerBilling.create_id(customer_id))
        if billing is None:
            return []
        fresh = [(at, i) for at, i in billing.due_by(self.until) if (i, at) not in self.seen]
        self.seen.update((i, at) for at, i in fresh)
        return fresh

    def run(self, customer_id: UUID, invoice_id: UUID, at: datetime) -> str | None:
        billing = self.uow.find(CustomerBilling, CustomerBilling.create_id(customer_id))
        if billing is None or billing.due.get(str(invoice_id)) != at:
            return None  # done or moved since it was handed out
        return run_one(self.uow, self.ctx, billing, invoice_id, at)


def process_due_invoices(uow: UnitOfWork, cmd: m.ProcessDueInvoices, ctx: Context) -> Result:
    customer = uow.get(Customer, cmd.customer_id, ctx.project_id)
    now = now_for(uow, ctx, customer.test_clock_id)
    done = run_due(uow, ctx, customer.id, customer.currency, now)
    billing = billing_for(uow, ctx, customer.id, customer.currency)
    return Result.changed({"invoice_work": done, "billing": billing.summary()})


HANDLERS: dict[type[m.Command], Handler] = {m.ProcessDueInvoices: process_due_invoices}
