"""Refunds of credits bought (issue 13, ``domain/credit_refunds.py``): a credit note of a
credit purchase's invoice, or the reversal of the transaction that funded a grant (a
wallet's withdrawal, an automatic top-up's charge), takes the refunded amount back from
the grant, never more than it still holds (``credits_already_spent``).

Each finder checks the refund before the caller records anything and answers what to
record after the caller's own event (None: the invoice or transaction bought no
credits), so a refused refund writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from commands.credit_top_ups import request_top_ups
from commands.now import now_for
from domain.credit_balance import CreditBalance
from domain.credit_watch import top_up_grant_id
from domain.customers import Customer
from domain.errors import InvalidTransition
from domain.invoices import Invoice
from domain.transactions import Transaction

TOP_UP_PREFIX = "credit_top_up:"  # commands.credit_top_ups.subject_of


def _balance(uow: UnitOfWork, ctx: Context, balance_id: UUID) -> CreditBalance | None:
    balance = uow.find(CreditBalance, balance_id)
    return balance if balance is not None and balance.project_id == ctx.project_id else None


def purchase_refund(
    uow: UnitOfWork, ctx: Context, invoice: Invoice, amount: int, now: datetime
) -> Callable[[str], None] | None:
    """For a credit note of ``amount`` on ``invoice``: what takes the credits it sold
    back, given the note's id; None when it sells none. A purchase not granted yet (its
    invoice unpaid) is refused: voiding the invoice cancels it."""
    balance = _balance(uow, ctx, CreditBalance.create_id(invoice.customer_id, invoice.currency))
    purchase = None if balance is None else balance.purchases.get(str(invoice.id))
    if balance is None or purchase is None:
        return None
    if purchase["status"] != "granted":
        raise InvalidTransition(
            f"invoice {invoice.id} sells credits not granted yet; void it instead",
            id=str(invoice.id),
        )
    grant_id = str(purchase["grant_id"])
    balance.check_refund(grant_id, amount, now)

    def refund(note_id: str) -> None:
        _refund(uow, ctx, balance, grant_id, amount, now, note_id, posted=False)

    return refund


def funding_refund(
    uow: UnitOfWork, ctx: Context, txn: Transaction, amount: int, *, reported: bool = False
) -> Callable[[], None] | None:
    """For a reversal of ``amount`` of ``txn``: what takes back the credits it funded
    (the reversal's own entry moves them); None when it funded none. ``reported``: the
    provider made the refund already (a fact): what the grant holds is taken back and
    the rest posted as a shortfall, never refused (``CreditRefunds.reported_refund``)."""
    grant_id = _funded_grant(txn)
    if grant_id is None:
        return None
    balance = _balance(uow, ctx, UUID(hex=grant_id.split("_")[1]))
    if balance is None:
        return None
    customer = uow.get(Customer, balance.customer_id, ctx.project_id)
    now = now_for(uow, ctx, customer.test_clock_id)
    if not reported:
        balance.check_refund(grant_id, amount, now)

    def refund() -> None:
        _refund(uow, ctx, balance, grant_id, amount, now, str(txn.id), reported=reported)

    return refund


def _refund(  # the refund's facts, each named
    uow: UnitOfWork,
    ctx: Context,
    balance: CreditBalance,
    grant_id: str,
    amount: int,
    now: datetime,
    reference: str,
    *,
    posted: bool = True,
    reported: bool = False,
) -> None:
    """Take the credits back, and charge the top-up a crossed threshold asks for."""
    before = len(balance.top_ups)
    if reported:
        balance.reported_refund(grant_id, amount, now, reference=reference)
    else:
        balance.refund_grant(grant_id, amount, now, reference=reference, posted=posted)
    uow.add(balance)
    customer = uow.get(Customer, balance.customer_id, ctx.project_id)
    request_top_ups(uow, ctx, balance, customer, before)


def _funded_grant(txn: Transaction) -> str | None:
    """The grant a transaction into a customer's credits bought: a wallet withdrawal
    names it (``external_ref``), a top-up's charge names its balance and crossing."""
    if not txn.to_ref.startswith("credits:"):
        return None
    ref = txn.external_ref
    if ref.startswith("cg_") and len(ref.split("_")) == 3:
        return ref
    if ref.startswith(TOP_UP_PREFIX):
        balance_id, crossing = ref.removeprefix(TOP_UP_PREFIX).split(":")
        return top_up_grant_id(UUID(balance_id), int(crossing))
    return None
