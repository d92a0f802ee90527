"""Handlers for drafting and closing invoices.

Commands and what they answer (every body has ``invoice``: ``invoice_summary``):

- ``CreateInvoice`` -> 201: a draft for a one-time charge or order, in the customer's
  currency, with optional lines.
- ``AddInvoiceLine`` / ``RemoveInvoiceLine`` -> 200 (drafts only).
- ``ApplyCoupon`` -> 200, plus ``coupon``: a coupon or promotion code on a draft; the
  redemption is recorded on the coupon (and promotion code) in the same save.
- ``FinalizeInvoice`` -> 200, plus ``credit_balance``: credit first, then the number.
- ``VoidInvoice`` -> 200, plus ``credit_balance`` (credit the invoice used comes back).
- ``MarkInvoiceUncollectible`` -> 200 (its retries stop).
- ``ProcessDueInvoices`` -> 200 ``{invoice_work: {step: count}, billing}``: the
  customer's due drafts finalized and due retries run, in time order.

Payments, retries and credit notes are in ``commands.invoice_payments``; tax rates,
coupons and settings in ``commands.billing_setup``. Events: see ``domain.invoices``.
"""

from __future__ import annotations

from uuid import uuid4

from commands import messages as m
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.invoice_common import (
    billing_for,
    finalize,
    find_dunning,
    load_invoice,
    redeem,
    resolve_coupon,
    summary,
    tax_rates,
)
from commands.now import now_for
from commands.subscription_invoices import run_due
from domain.customers import Customer
from domain.invoices import Invoice
from domain.limits import MAX_DESCRIPTION_CHARS, check_text
from domain.tax import TaxRate


def _add_line(invoice: Invoice, line: m.InvoiceLineInput, rates: list[TaxRate]) -> str:
    line_id = f"li_{uuid4().hex[:12]}"
    invoice.add_line(
        line_id,
        line.kind,
        line.description,
        line.quantity,
        line.unit_amount,
        rates,
        discountable=line.discountable,
    )
    return line_id


def _stop_dunning(uow: UnitOfWork, invoice: Invoice, reason: str) -> None:
    dunning = find_dunning(uow, invoice)
    if dunning is not None:
        dunning.stop(reason)


def create_invoice(uow: UnitOfWork, cmd: m.CreateInvoice, ctx: Context) -> Result:
    customer = uow.get(Customer, cmd.customer_id, ctx.project_id)
    now_for(uow, ctx, customer.test_clock_id)  # the clock must exist
    rates = [tax_rates(uow, ctx, list(line.tax_rate_ids)) for line in cmd.lines]
    # Invoice() records its first event at once, so its text is checked before.
    check_text(cmd.description, "description", MAX_DESCRIPTION_CHARS, free_text=True)
    invoice = Invoice(
        project_id=ctx.project_id,
        customer_id=customer.id,
        currency=customer.currency,
        subscription_id=None,
        period_start=None,
        period_end=None,
        description=cmd.description,
    )
    # The invoice is new and not yet in the unit of work: a line that is refused
    # leaves nothing behind.
    for line, line_rates in zip(cmd.lines, rates, strict=True):
        _add_line(invoice, line, line_rates)
    uow.add(invoice)
    return Result.created({"invoice": summary(uow, invoice)})


def add_line(uow: UnitOfWork, cmd: m.AddInvoiceLine, ctx: Context) -> Result:
    invoice = uow.get(Invoice, cmd.invoice_id, ctx.project_id)
    line = cmd.line
    invoice.check_line("li_new", line.kind, line.quantity, line.unit_amount)
    rates = tax_rates(uow, ctx, list(line.tax_rate_ids))
    line_id = _add_line(invoice, line, rates)
    return Result.changed({"invoice": summary(uow, invoice), "line_id": line_id})


def remove_line(uow: UnitOfWork, cmd: m.RemoveInvoiceLine, ctx: Context) -> Result:
    invoice = uow.get(Invoice, cmd.invoice_id, ctx.project_id)
    invoice.remove_line(cmd.line_id)
    return Result.changed({"invoice": summary(uow, invoice)})


def apply_coupon(uow: UnitOfWork, cmd: m.ApplyCoupon, ctx: Context) -> Result:
    invoice, _, now = load_invoice(uow, ctx, cmd.invoice_id)
    invoice.check_coupon()
    coupon, promo = resolve_coupon(
        uow, ctx, cmd.coupon_code, cmd.promotion_code, invoice.currency, now
    )
    invoice.apply_coupon(str(coupon.id), coupon.percent_off, coupon.money_off, coupon.code)
    redeem(coupon, promo, now)
    return Result.changed(
        {
            "invoice": summary(uow, invoice),
            "coupon": {"code": coupon.code, "times_redeemed": coupon.times_redeemed},
        }
    )


def finalize_invoice(uow: UnitOfWork, cmd: m.FinalizeInvoice, ctx: Context) -> Result:
    invoice, _, now = load_invoice(uow, ctx, cmd.invoice_id)
    finalize(uow, ctx, invoice, now)
    billing = billing_for(uow, ctx, invoice.customer_id, invoice.currency)
    return Result.changed(
        {"invoice": summary(uow, invoice), "credit_balance": billing.credit_balance}
    )


def void_invoice(uow: UnitOfWork, cmd: m.VoidInvoice, ctx: Context) -> Result:
    invoice, _, now = load_invoice(uow, ctx, cmd.invoice_id)
    invoice.check_void()
    billing = billing_for(uow, ctx, invoice.customer_id, invoice.currency)
    billing.check_grant(invoice.credit_applied)
    invoice.void(now)
    _stop_dunning(uow, invoice, "voided")
    if invoice.credit_applied:
        billing.grant_credit(invoice.id, invoice.credit_applied, "void")
    billing.clear(invoice.id)
    uow.add(billing)
    return Result.changed(
        {"invoice": summary(uow, invoice), "credit_balance": billing.credit_balance}
    )


def mark_uncollectible(uow: UnitOfWork, cmd: m.MarkInvoiceUncollectible, ctx: Context) -> Result:
    invoice, _, now = load_invoice(uow, ctx, cmd.invoice_id)
    invoice.mark_uncollectible(now)
    _stop_dunning(uow, invoice, "marked_uncollectible")
    billing = billing_for(uow, ctx, invoice.customer_id, invoice.currency)
    billing.clear(invoice.id)
    uow.add(billing)
    return Result.changed({"invoice": summary(uow, invoice)})


def process_due_invoices(uow: UnitOfWork, cmd: m.ProcessDueInvoices, ctx: Context) -> Result:
    customer = uow.get(Customer, cmd.customer_id, ctx.project_id)
    now = now_for(uow, ctx, customer.test_clock_id)
    done = run_due(uow, ctx, customer.id, customer.currency, now)
    billing = billing_for(uow, ctx, customer.id, customer.currency)
    return Result.changed({"invoice_work": done, "billing": billing.summary()})


HANDLERS: dict[type[m.Command], Handler] = {
    m.CreateInvoice: create_invoice,
    m.AddInvoiceLine: add_line,
    m.RemoveInvoiceLine: remove_line,
    m.ApplyCoupon: apply_coupon,
    m.FinalizeInvoice: finalize_invoice,
    m.VoidInvoice: void_invoice,
    m.MarkInvoiceUncollectible: mark_uncollectible,
    m.ProcessDueInvoices: process_due_invoices,
}
