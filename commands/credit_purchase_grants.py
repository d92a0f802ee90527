"""What an invoice's payment or void does to the credits it sells (issue 13,
``domain/credit_purchases.py``): ``commands.invoice_settlement.after_paid`` (every way an
invoice is paid: a charge, checkout, a manual or wallet payment) grants them, and the
void cancels them. An invoice that sells no credits finds no purchase and changes
nothing; one already granted grants nothing more, so a payment event delivered twice
grants once."""

from __future__ import annotations

from datetime import datetime

from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from domain.credit_balance import CreditBalance
from domain.invoices import PAID, Invoice


def _balance(uow: UnitOfWork, ctx: Context, invoice: Invoice) -> CreditBalance | None:
    balance_id = CreditBalance.create_id(invoice.customer_id, invoice.currency)
    balance = uow.find(CreditBalance, balance_id)
    if balance is None or balance.project_id != ctx.project_id:
        return None
    return balance


def grant_paid_purchase(uow: UnitOfWork, ctx: Context, invoice: Invoice, now: datetime) -> None:
    """The credits the paid ``invoice`` bought, granted at ``now`` (once)."""
    if invoice.status != PAID:
        return
    balance = _balance(uow, ctx, invoice)
    if balance is not None and balance.grant_purchase(str(invoice.id), now) is not None:
        uow.add(balance)


def cancel_voided_purchase(uow: UnitOfWork, ctx: Context, invoice: Invoice) -> None:
    """The credits the voided ``invoice`` sold will never be granted."""
    balance = _balance(uow, ctx, invoice)
    if balance is not None and balance.cancel_purchase(str(invoice.id)):
        uow.add(balance)
