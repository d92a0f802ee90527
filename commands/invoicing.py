"""Handlers for drafting and closing invoices.

Commands and what they answer (every body has ``invoice``: ``invoice_summary``):

- ``CreateInvoice`` -> 201: a draft for a one-time charge or order, in the customer's
  currency, with optional lines.
- ``AddInvoiceLine`` / ``RemoveInvoiceLine`` -> 200 (drafts only).
- ``ApplyCoupon`` -> 200, plus ``coupon``: a coupon or promotion code on a draft; the
  redemption is recorded on the coupon (and promotion code) in the same save.
- ``FinalizeInvoice`` -> 200, plus ``credit_balance``: credit first, then the number.
- ``VoidInvoice`` -> 200, plus ``credit_balance`` (credit the invoice used comes back,
  and the prepaid credits its ``credits`` line consumed: ``domain.credit_restores``).
- ``MarkInvoiceUncollectible`` -> 200 (its retries stop).

Here too is what every handler that touches an invoice uses: ``load_invoice``,
``finalize`` (credit first, then the next number: the subscriptions' invoices are
finalized by it too), ``billing_for`` (the customer's billing record), ``summary`` (the
answer) and the invoice's dunning record it reads (``find_dunning``, ``dunning_for``).
``ProcessDueInvoices`` is in ``commands.invoice_due_work``, next to the due work it
runs; payments, retries and credit notes are in ``commands.invoice_payments``; tax rates,
coupons and settings in ``commands.billing_setup``. Events: see ``domain.invoices``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from commands import messages as m
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.created import created
from commands.credit_purchase_grants import cancel_voided_purchase
from commands.invoice_common import redeem, resolve_coupon, tax_rates
from commands.now import now_for
from domain.billing_settings import (
    TEST_CLOCK_SERIES,
    BillingSettings,
    InvoiceSequence,
    series_prefix,
)
from domain.credit_balance import CreditBalance
from domain.customer_billing import CustomerBilling
from domain.customers import Customer
from domain.dunning import InvoiceDunning
from domain.invoices import Invoice
from domain.limits import MAX_DESCRIPTION_CHARS, check_text
from domain.tax import TaxRate


def load_invoice(
    uow: UnitOfWork, ctx: Context, invoice_id: UUID
) -> tuple[Invoice, Customer, datetime]:
    invoice = uow.get(Invoice, invoice_id, ctx.project_id)
    customer = uow.get(Customer, invoice.customer_id, ctx.project_id)
    return invoice, customer, now_for(uow, ctx, customer.test_clock_id)


def billing_for(uow: UnitOfWork, ctx: Context, customer_id: UUID, currency: str) -> CustomerBilling:
    found = uow.find(CustomerBilling, CustomerBilling.create_id(customer_id))
    if found is not None:
        return found
    return CustomerBilling(project_id=ctx.project_id, customer_id=customer_id, currency=currency)


def sequence(uow: UnitOfWork, ctx: Context, prefix: str, series: str = "") -> InvoiceSequence:
    found = uow.find(InvoiceSequence, InvoiceSequence.create_id(ctx.project_id, series))
    return found or InvoiceSequence(project_id=ctx.project_id, prefix=prefix, series=series)


def finalize(uow: UnitOfWork, ctx: Context, invoice: Invoice, now: datetime) -> None:
    """Finalize ``invoice``: credit balance first, then the next number. Raises only in
    ``check_finalize`` and the credit balance's limit, before anything changes."""
    invoice.check_finalize()
    settings = uow.find(BillingSettings, BillingSettings.create_id(ctx.project_id))
    if settings is None:
        # Kept with its defaults, so that the next finalization finds it in the bus's
        # cache instead of asking the store, again, for an aggregate that is not there.
        settings = BillingSettings(project_id=ctx.project_id)
        uow.add(settings)
    values = dict(settings.values)
    billing = billing_for(uow, ctx, invoice.customer_id, invoice.currency)
    # A negative total (only credit lines make one) becomes credit: the balance it leaves
    # must fit the limit too.
    if any(int(line["amount"]) < 0 for line in invoice.lines):
        billing.check_grant(max(0, -int(invoice.preview()["total"])))
    # An invoice dated by a test clock is numbered in the test-clock series.
    on_clock = uow.get(Customer, invoice.customer_id, ctx.project_id).test_clock_id
    series = TEST_CLOCK_SERIES if on_clock is not None else ""
    prefix = series_prefix(values["invoice_prefix"], series)
    numbers = sequence(uow, ctx, prefix, series)
    used = invoice.finalize(numbers, billing.credit_balance, now, prefix)
    if used:
        billing.apply_credit(invoice.id, used)
    if invoice.credit_granted:
        billing.grant_credit(invoice.id, invoice.credit_granted, "negative_total")
    billing.clear(invoice.id)
    uow.add(numbers)
    uow.add(billing)


def find_dunning(uow: UnitOfWork, invoice: Invoice) -> InvoiceDunning | None:
    return uow.find(InvoiceDunning, InvoiceDunning.create_id(invoice.id))


def dunning_for(uow: UnitOfWork, invoice: Invoice) -> InvoiceDunning:
    """The invoice's dunning record. A new one is not in the unit of work yet: the caller
    adds it once every guard has passed, so a refused command leaves the unit of work as
    it found it."""
    return find_dunning(uow, invoice) or InvoiceDunning(
        project_id=invoice.project_id,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        subscription_id=invoice.subscription_id,
    )


def summary(uow: UnitOfWork, invoice: Invoice) -> dict[str, Any]:
    return invoice_summary(invoice, find_dunning(uow, invoice))


def invoice_summary(invoice: Invoice, dunning: InvoiceDunning | None = None) -> dict[str, Any]:
    """The invoice as the write side knows it: what every invoicing command answers
    (``Invoice.summary``, which the invoices read model keeps too)."""
    return {**invoice.summary(dunning), "created": created(invoice)}


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


def one_off_invoice(ctx: Context, customer: Customer, description: str) -> Invoice:
    """A draft for the customer, in its currency, of no subscription and no period (one
    a client creates, or a credit purchase's); not in the unit of work yet."""
    return Invoice(
        project_id=ctx.project_id,
        customer_id=customer.id,
        currency=customer.currency,
        subscription_id=None,
        period_start=None,
        period_end=None,
        description=description,
    )


def create_invoice(uow: UnitOfWork, cmd: m.CreateInvoice, ctx: Context) -> Result:
    customer = uow.get(Customer, cmd.customer_id, ctx.project_id)
    now_for(uow, ctx, customer.test_clock_id)  # the clock must exist
    rates = [tax_rates(uow, ctx, list(line.tax_rate_ids)) for line in cmd.lines]
    # Invoice() records its first event at once, so its text is checked before.
    check_text(cmd.description, "description", MAX_DESCRIPTION_CHARS, free_text=True)
    invoice = one_off_invoice(ctx, customer, cmd.description)
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
    restore_credits(uow, ctx, invoice, now)
    cancel_voided_purchase(uow, ctx, invoice)
    billing.clear(invoice.id)
    uow.add(billing)
    return Result.changed(
        {"invoice": summary(uow, invoice), "credit_balance": billing.credit_balance}
    )


def restore_credits(uow: UnitOfWork, ctx: Context, invoice: Invoice, at: datetime) -> int:
    """Give back the prepaid credits the voided ``invoice`` consumed; 0 when none did.
    A restore only raises the credits, so it crosses no threshold (no top-up to ask)."""
    if not any(line["kind"] == "credits" for line in invoice.lines):
        return 0
    balance_id = CreditBalance.create_id(invoice.customer_id, invoice.currency)
    balance = uow.find(CreditBalance, balance_id)
    if balance is None or balance.project_id != ctx.project_id:
        return 0
    return balance.restore(str(invoice.id), at)


def mark_uncollectible(uow: UnitOfWork, cmd: m.MarkInvoiceUncollectible, ctx: Context) -> Result:
    invoice, _, now = load_invoice(uow, ctx, cmd.invoice_id)
    invoice.mark_uncollectible(now)
    _stop_dunning(uow, invoice, "marked_uncollectible")
    billing = billing_for(uow, ctx, invoice.customer_id, invoice.currency)
    billing.clear(invoice.id)
    uow.add(billing)
    return Result.changed({"invoice": summary(uow, invoice)})


HANDLERS: dict[type[m.Command], Handler] = {
    m.CreateInvoice: create_invoice,
    m.AddInvoiceLine: add_line,
    m.RemoveInvoiceLine: remove_line,
    m.ApplyCoupon: apply_coupon,
    m.FinalizeInvoice: finalize_invoice,
    m.VoidInvoice: void_invoice,
    m.MarkInvoiceUncollectible: mark_uncollectible,
}
