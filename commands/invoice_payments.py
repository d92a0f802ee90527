"""Handlers for paying invoices, dunning and credit notes.

- ``PayInvoice`` -> 200 ``{invoice, payment_attempt, subscription?}``:
  - ``wallet``: a ledger ``Transaction`` (kind ``withdrawal``) from the customer's wallet
    to ``receivable:<customer>``; the wallet's balance guard applies and the journal
    shows that one balanced entry (the invoice's payment records no entry of its own);
  - ``provider``: the provider charges (the built-in stub for now); success posts
    ``clearing:<provider> -x, receivable +x``; a decline records ``PaymentFailed`` and a
    ``DunningReminder`` and schedules the retry (``payment_attempt.succeeded`` false);
  - ``out_of_band``: ``clearing:out_of_band -x, receivable +x`` with the reference.
- ``RetryInvoicePayment`` -> 200: the retry that is due (nothing when none is due:
  ``payment_attempt`` null), through the provider of the failed attempt.
- ``CreateCreditNote`` -> 201 ``{invoice, credit_note, credit_balance, transaction?}``.

Dunning and the subscription: the first failure makes an active subscription past_due;
when the last retry fails it becomes canceled or unpaid (``BillingSettings``); a payment
that settles the invoice makes a past_due subscription active again (and activates an
incomplete one whose first invoice it is).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from commands import messages as m
from commands.bus import Context, Handler
from commands.invoice_common import (
    Result,
    billing_for,
    dunning_for,
    find_dunning,
    load_invoice,
    settings_values,
    summary,
)
from commands.ledger import _new_id
from commands.payment_providers import PROVIDERS
from commands.unit_of_work import UnitOfWork
from domain.accounts import Account, clearing_ref
from domain.credit_notes import check_credit
from domain.customer_billing import CustomerBilling
from domain.customers import Customer
from domain.dunning import InvoiceDunning
from domain.errors import NotFound, ValidationFailed
from domain.invoices import PAID, Invoice, receivable_ref
from domain.subscription_states import ACTIVE, INCOMPLETE, PAST_DUE, TRIALING
from domain.subscriptions import Subscription
from domain.transactions import Transaction

CANCELABLE = (TRIALING, ACTIVE, PAST_DUE)


def _subscription(uow: UnitOfWork, ctx: Context, invoice: Invoice) -> Subscription | None:
    if invoice.subscription_id is None:
        return None
    return uow.get(Subscription, invoice.subscription_id, ctx.project_id)


def after_paid(
    uow: UnitOfWork, ctx: Context, invoice: Invoice, billing: CustomerBilling, now: datetime
) -> None:
    if invoice.status != PAID:
        return
    dunning = find_dunning(uow, invoice)
    if dunning is not None:
        dunning.recover(now)
    billing.clear(invoice.id)
    uow.add(billing)
    sub = _subscription(uow, ctx, invoice)
    if sub is not None and sub.status == PAST_DUE:
        sub.reactivate()
    elif sub is not None and sub.status == INCOMPLETE:
        sub.activate()


def after_failed(
    uow: UnitOfWork,
    ctx: Context,
    invoice: Invoice,
    dunning: InvoiceDunning,
    step: str,
    now: datetime,
) -> None:
    billing = billing_for(uow, ctx, invoice.customer_id, invoice.currency)
    if dunning.next_attempt_at is not None:
        billing.schedule(invoice.id, dunning.next_attempt_at, "retry")
    else:
        billing.clear(invoice.id)
    uow.add(billing)
    sub = _subscription(uow, ctx, invoice)
    if sub is None:
        return
    if sub.status in (ACTIVE, TRIALING):
        sub.mark_past_due()
    if step != "retries_exhausted":
        return
    if settings_values(uow, ctx)["final_action"] == "canceled":
        if sub.status in CANCELABLE:
            sub.cancel(now)
    elif sub.status == PAST_DUE:
        sub.mark_unpaid()


def apply_charge_success(  # what the provider answered, and when
    uow: UnitOfWork,
    ctx: Context,
    invoice: Invoice,
    provider_name: str,
    reference: str,
    amount: int,
    now: datetime,
) -> str:
    """A provider charged ``amount`` for the invoice: record the payment and what it
    settles. Also the entry point for a provider's asynchronous answer (issue 5's
    outbox), which must check ``invoice.check_payment(amount)`` first."""
    invoice.pay(amount, clearing_ref(provider_name), reference, now, method="provider")
    billing = billing_for(uow, ctx, invoice.customer_id, invoice.currency)
    after_paid(uow, ctx, invoice, billing, now)
    return "paid"


def apply_charge_failure(  # what the provider answered, and when
    uow: UnitOfWork,
    ctx: Context,
    invoice: Invoice,
    provider_name: str,
    reason: str,
    now: datetime,
    *,
    retry: bool,
) -> str:
    """A provider declined a charge for the invoice: dunning takes over. Returns the
    dunning step (payment_failed, retry_failed, retries_exhausted)."""
    dunning = dunning_for(uow, invoice)
    step = dunning.record_failure(
        provider=provider_name,
        reason=reason,
        at=now,
        retry_days=settings_values(uow, ctx)["retry_days"],
        retry=retry,
        amount_remaining=invoice.amount_remaining,
    )
    uow.add(dunning)
    after_failed(uow, ctx, invoice, dunning, step, now)
    return step


def charge(
    uow: UnitOfWork,
    ctx: Context,
    invoice: Invoice,
    customer: Customer,
    provider_name: str,
    amount: int,
    now: datetime,
    *,
    retry: bool,
) -> dict[str, Any]:
    """One attempt through a provider; the invoice's payment was checked by the caller."""
    provider = PROVIDERS[provider_name]
    attempt = dunning_for(uow, invoice).attempt_count + 1
    result = provider.charge(customer, invoice, amount, attempt)
    if result.succeeded:
        step = apply_charge_success(uow, ctx, invoice, provider_name, result.reference, amount, now)
    else:
        step = apply_charge_failure(
            uow, ctx, invoice, provider_name, result.failure_reason, now, retry=retry
        )
    return {
        "succeeded": result.succeeded,
        "attempt": attempt,
        "amount": amount,
        "provider": provider_name,
        "reference": result.reference,
        "failure_reason": result.failure_reason or None,
        "step": step,
    }


def _wallet(uow: UnitOfWork, ctx: Context, customer: Customer, account_id: UUID | None) -> Account:
    if account_id is not None:
        return uow.get(Account, account_id, ctx.project_id)
    for owner in (customer.external_id, str(customer.id)):
        found = uow.find(Account, Account.create_id(ctx.project_id, owner, customer.currency))
        if found is not None and found.project_id == ctx.project_id:
            return found
    raise NotFound(
        f"customer {customer.id} has no {customer.currency} wallet (owner_ref is its "
        "external id); name one with account_id"
    )


def _pay_from_wallet(
    uow: UnitOfWork,
    ctx: Context,
    invoice: Invoice,
    customer: Customer,
    cmd: m.PayInvoice,
    amount: int,
    now: datetime,
) -> dict[str, Any]:
    account = _wallet(uow, ctx, customer, cmd.account_id)
    account.check_can_debit(amount, invoice.currency)
    txn = Transaction.begin(
        id=_new_id(ctx, "transaction"),
        project_id=ctx.project_id,
        kind="withdrawal",
        amount=amount,
        currency=invoice.currency,
        from_ref=account.ref,
        to_ref=receivable_ref(invoice.customer_id),
        complete_now=True,
        description=f"payment of invoice {invoice.number}",
        external_ref=str(invoice.id),
    )
    account.withdraw(amount, invoice.currency, txn.id)
    invoice.pay(
        amount,
        account.ref,
        cmd.reference or str(txn.id),
        now,
        method="wallet",
        transaction_id=txn.id,
    )
    uow.add(txn)
    billing = billing_for(uow, ctx, invoice.customer_id, invoice.currency)
    after_paid(uow, ctx, invoice, billing, now)
    return {
        "succeeded": True,
        "amount": amount,
        "method": "wallet",
        "transaction_id": str(txn.id),
        "account": account.summary(),
        "step": "paid",
    }


def pay_invoice(uow: UnitOfWork, cmd: m.PayInvoice, ctx: Context) -> Result:
    invoice, customer, now = load_invoice(uow, ctx, cmd.invoice_id)
    amount = cmd.amount if cmd.amount is not None else invoice.amount_remaining
    invoice.check_payment(amount)
    if cmd.method == "wallet":
        attempt = _pay_from_wallet(uow, ctx, invoice, customer, cmd, amount, now)
    elif cmd.method == "provider":
        attempt = charge(uow, ctx, invoice, customer, cmd.provider, amount, now, retry=False)
    else:
        if not cmd.reference:
            raise ValidationFailed("an out-of-band payment needs its reference")
        invoice.pay(amount, clearing_ref("out_of_band"), cmd.reference, now)
        billing = billing_for(uow, ctx, invoice.customer_id, invoice.currency)
        after_paid(uow, ctx, invoice, billing, now)
        attempt = {"succeeded": True, "amount": amount, "method": "out_of_band", "step": "paid"}
    return 200, _body(uow, ctx, invoice, attempt)


def _body(
    uow: UnitOfWork, ctx: Context, invoice: Invoice, attempt: dict[str, Any] | None
) -> dict[str, Any]:
    # Imported here: commands.subscriptions creates invoices through this package.
    from commands.subscriptions import subscription_summary

    sub = _subscription(uow, ctx, invoice)
    return {
        "invoice": summary(uow, invoice),
        "payment_attempt": attempt,
        "subscription": subscription_summary(sub) if sub is not None else None,
    }


def retry_due_payment(
    uow: UnitOfWork, ctx: Context, invoice: Invoice, customer: Customer, now: datetime
) -> dict[str, Any] | None:
    """Run the invoice's payment retry if it is due at ``now``; None when it is not."""
    dunning = find_dunning(uow, invoice)
    due = dunning.next_attempt_at if dunning is not None else None
    if dunning is None or due is None or due > now or invoice.status not in ("open",):
        return None
    amount = invoice.amount_remaining
    invoice.check_payment(amount)
    return charge(uow, ctx, invoice, customer, dunning.provider, amount, now, retry=True)


def retry_payment(uow: UnitOfWork, cmd: m.RetryInvoicePayment, ctx: Context) -> Result:
    invoice, customer, now = load_invoice(uow, ctx, cmd.invoice_id)
    attempt = retry_due_payment(uow, ctx, invoice, customer, now)
    return 200, _body(uow, ctx, invoice, attempt)


def _refund_source(
    uow: UnitOfWork, ctx: Context, invoice: Invoice, payment: dict[str, Any] | None, amount: int
) -> Account | None:
    """Check that the refunded payment can take the money back: the wallet it came from
    (returned, to be credited), or the provider (which refunds now)."""
    if payment is None or payment["method"] not in ("wallet", "provider"):
        return None
    if payment["method"] == "provider":
        provider = payment["paid_from"].removeprefix("clearing:")
        refund = PROVIDERS[provider].refund(invoice, payment["reference"], amount)
        if not refund.succeeded:
            raise ValidationFailed(f"the provider refused the refund: {refund.failure_reason}")
        return None
    account_id = UUID(payment["paid_from"].removeprefix("wallet:"))
    account = uow.get(Account, account_id, ctx.project_id)
    account.check_can_credit(amount, invoice.currency)
    return account


def _refund_to_wallet(
    uow: UnitOfWork, ctx: Context, invoice: Invoice, account: Account, amount: int, note_id: str
) -> Transaction:
    txn = Transaction.begin(
        id=_new_id(ctx, "transaction"),
        project_id=ctx.project_id,
        kind="deposit",
        amount=amount,
        currency=invoice.currency,
        from_ref=receivable_ref(invoice.customer_id),
        to_ref=account.ref,
        complete_now=True,
        description=f"refund of {note_id}",
        external_ref=str(invoice.id),
    )
    account.deposit(amount, invoice.currency, txn.id)
    uow.add(txn)
    return txn


def create_credit_note(uow: UnitOfWork, cmd: m.CreateCreditNote, ctx: Context) -> Result:
    invoice, _, now = load_invoice(uow, ctx, cmd.invoice_id)
    amount = cmd.amount
    if amount is None:
        refundable = invoice.amount_paid - invoice.amount_refunded
        amount = invoice.amount_remaining if cmd.refund_to == "none" else refundable
    payment = check_credit(invoice, amount, cmd.refund_to, cmd.payment_id)
    account = _refund_source(uow, ctx, invoice, payment, amount)
    billing = billing_for(uow, ctx, invoice.customer_id, invoice.currency)
    note_id = f"{invoice.number}-CN{len(invoice.credit_notes) + 1}"
    # A wallet's refund goes through the receivable and a ledger transaction, so the
    # wallet's balance changes with a Transaction like every other wallet movement.
    refund_account = receivable_ref(invoice.customer_id) if account is not None else ""
    payment_id = payment["id"] if payment else None
    note = invoice.credit(
        note_id, amount, cmd.reason, cmd.refund_to, refund_account, now, payment_id=payment_id
    )
    body: dict[str, Any] = {}
    if account is not None:
        body["transaction"] = _refund_to_wallet(
            uow, ctx, invoice, account, amount, note_id
        ).summary()
    if cmd.refund_to == "credit_balance":
        billing.grant_credit(invoice.id, amount, "credit_note")
    uow.add(billing)
    if cmd.refund_to == "none":
        after_paid(uow, ctx, invoice, billing, now)
    return 201, {
        **body,
        "invoice": summary(uow, invoice),
        "credit_note": note,
        "credit_balance": billing.credit_balance,
    }


HANDLERS: dict[type[m.Command], Handler] = {
    m.PayInvoice: pay_invoice,
    m.RetryInvoicePayment: retry_payment,
    m.CreateCreditNote: create_credit_note,
}
