"""What a payment, or a failed one, changes beyond the invoice itself.

Shared by every way an invoice is paid: the API's wallet and out-of-band payments, a
provider's answer to a charge the outbox made (``commands/invoice_charges.py``) and a
provider's webhook. A payment that settles the invoice ends its dunning and makes a
past_due subscription active again (and activates an incomplete one whose first invoice
it is); a failure hands the invoice to dunning, which makes an active subscription
past_due and, when the last retry fails, canceled or unpaid (``BillingSettings``).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from commands.credit_purchase_grants import grant_paid_purchase
from commands.invoice_common import settings_values
from commands.invoicing import billing_for, dunning_for, find_dunning
from domain.accounts import clearing_ref
from domain.customer_billing import CustomerBilling
from domain.dunning import InvoiceDunning
from domain.invoices import PAID, Invoice
from domain.subscription_states import ACTIVE, INCOMPLETE, PAST_DUE, TRIALING, UNPAID
from domain.subscriptions import Subscription

CANCELABLE = (TRIALING, ACTIVE, PAST_DUE)


def invoice_subscription(uow: UnitOfWork, ctx: Context, invoice: Invoice) -> Subscription | None:
    if invoice.subscription_id is None:
        return None
    return uow.get(Subscription, invoice.subscription_id, ctx.project_id)


def after_paid(
    uow: UnitOfWork, ctx: Context, invoice: Invoice, billing: CustomerBilling, now: datetime
) -> None:
    if invoice.status != PAID:
        return
    grant_paid_purchase(uow, ctx, invoice, now)
    dunning = find_dunning(uow, invoice)
    if dunning is not None:
        dunning.recover(now)
    billing.clear(invoice.id)
    uow.add(billing)
    sub = invoice_subscription(uow, ctx, invoice)
    if sub is not None and sub.status in (PAST_DUE, UNPAID):
        # Paid after all: an unpaid subscription is active again (as at Stripe), and the
        # periods it missed are billed by the next due pass.
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
    sub = invoice_subscription(uow, ctx, invoice)
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
    *,
    transaction_id: UUID | None = None,
) -> str:
    """A provider charged ``amount`` for the invoice: record the payment, posted against
    the provider's clearing account (by its ledger ``transaction_id`` when it has one),
    and what it settles. The caller has checked that the invoice can take it
    (``invoice.check_payment(amount)``)."""
    invoice.pay(
        amount,
        clearing_ref(provider_name),
        reference,
        now,
        method="provider",
        transaction_id=transaction_id,
    )
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
