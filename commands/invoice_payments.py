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
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.created import created
from commands.credit_refunds import purchase_refund
from commands.invoice_charges import reporting_calls, request_charge
from commands.invoice_settlement import after_paid, invoice_subscription
from commands.invoicing import billing_for, find_dunning, load_invoice, summary
from commands.ledger import _new_id
from domain.accounts import Account, clearing_ref
from domain.credit_notes import check_credit
from domain.customers import Customer
from domain.errors import InvalidCombination, NotFound, ValidationFailed
from domain.invoices import Invoice, receivable_ref
from domain.money import Money
from domain.provider_call_params import RefundParams
from domain.provider_calls import ProviderCall
from domain.provider_settings import ProviderSettings
from domain.transactions import Transaction


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
    # The invoice's currency meets the wallet's here: a wallet in another is refused.
    money = Money(amount, invoice.currency)
    account.check_can_debit(money)
    txn = Transaction.begin(
        id=_new_id(ctx, "transaction"),
        project_id=ctx.project_id,
        kind="withdrawal",
        amount=money,
        from_ref=account.ref,
        to_ref=receivable_ref(invoice.customer_id),
        complete_now=True,
        description=f"payment of invoice {invoice.number}",
        external_ref=str(invoice.id),
    )
    account.withdraw(money, txn.id)
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
        provider = cmd.provider or default_provider(uow, ctx)
        attempt = request_charge(uow, ctx, invoice, customer, provider, amount, now, retry=False)
    else:
        if not cmd.reference:
            raise InvalidCombination("an out-of-band payment needs its reference")
        invoice.pay(amount, clearing_ref("out_of_band"), cmd.reference, now)
        billing = billing_for(uow, ctx, invoice.customer_id, invoice.currency)
        after_paid(uow, ctx, invoice, billing, now)
        attempt = {"succeeded": True, "amount": amount, "method": "out_of_band", "step": "paid"}
    return Result.changed(_body(uow, ctx, invoice, attempt))


def _body(
    uow: UnitOfWork, ctx: Context, invoice: Invoice, attempt: dict[str, Any] | None
) -> dict[str, Any]:
    # The subscription as commands.subscriptions answers it (its summary and when it was
    # created), built here: that module creates invoices through this one, so importing it
    # would be a cycle.
    sub = invoice_subscription(uow, ctx, invoice)
    return {
        "invoice": summary(uow, invoice),
        "payment_attempt": attempt,
        "subscription": {**sub.summary(), "created": created(sub)} if sub is not None else None,
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
    return request_charge(uow, ctx, invoice, customer, dunning.provider, amount, now, retry=True)


def retry_payment(uow: UnitOfWork, cmd: m.RetryInvoicePayment, ctx: Context) -> Result:
    invoice, customer, now = load_invoice(uow, ctx, cmd.invoice_id)
    attempt = retry_due_payment(uow, ctx, invoice, customer, now)
    return Result.changed(_body(uow, ctx, invoice, attempt))


def _refund_source(
    uow: UnitOfWork, ctx: Context, invoice: Invoice, payment: dict[str, Any] | None, amount: int
) -> Account | None:
    """The wallet a refunded wallet payment came from, checked to take the money back
    (None for every other payment: a provider's is refunded through the outbox)."""
    if payment is None or payment["method"] != "wallet":
        return None
    account_id = UUID(payment["paid_from"].removeprefix("wallet:"))
    account = uow.get(Account, account_id, ctx.project_id)
    account.check_can_credit(Money(amount, invoice.currency))
    return account


def _refund_to_wallet(
    uow: UnitOfWork, ctx: Context, invoice: Invoice, account: Account, amount: int, note_id: str
) -> Transaction:
    money = Money(amount, invoice.currency)
    txn = Transaction.begin(
        id=_new_id(ctx, "transaction"),
        project_id=ctx.project_id,
        kind="deposit",
        amount=money,
        from_ref=receivable_ref(invoice.customer_id),
        to_ref=account.ref,
        complete_now=True,
        description=f"refund of {note_id}",
        external_ref=str(invoice.id),
    )
    account.deposit(money, txn.id)
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
    if cmd.refund_to == "credit_balance":
        billing.check_grant(amount)
    note_id = f"{invoice.number}-CN{len(invoice.credit_notes) + 1}"
    # A credit purchase's note takes back the credits it refunds (at most what is left).
    take_back = purchase_refund(uow, ctx, invoice, amount, now)
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
    if payment is not None and payment["method"] == "provider":
        body["refund_call"] = request_refund(uow, ctx, invoice, payment, note_id, amount)
    if take_back is not None:
        take_back(note_id)
    if cmd.refund_to == "credit_balance":
        billing.grant_credit(invoice.id, amount, "credit_note")
    uow.add(billing)
    if cmd.refund_to == "none":
        after_paid(uow, ctx, invoice, billing, now)
    return Result.created(
        {
            **body,
            "invoice": summary(uow, invoice),
            "credit_note": note,
            "credit_balance": billing.credit_balance,
        }
    )


def request_refund(
    uow: UnitOfWork,
    ctx: Context,
    invoice: Invoice,
    payment: dict[str, Any],
    note_id: str,
    amount: int,
) -> dict[str, Any]:
    """Ask the outbox to refund a provider payment for a credit note. The note's entry
    already moved the amount to ``clearing:<provider>``, which the provider's refund
    settles; a refund the provider refuses stays visible as a failed provider call."""
    assert ctx.now is not None
    call = ProviderCall.request(
        project_id=ctx.project_id,
        provider=payment["paid_from"].removeprefix("clearing:"),
        subject=f"credit_note:{invoice.id}:{note_id}",
        params=RefundParams(
            payment_ref=payment["reference"],
            amount_minor=amount,
            currency=invoice.currency,
            reason=f"credit note {note_id}",
            invoice_id=str(invoice.id),
            credit_note=note_id,
            references={"tally_invoice": str(invoice.id), "tally_credit_note": note_id},
        ),
        now=ctx.now,
    )
    uow.add(call)
    summary: dict[str, Any] = call.summary()
    return summary


def default_provider(uow: UnitOfWork, ctx: Context) -> str:
    """The provider a charge goes through when the command names none: the project's
    own choice, else the server's default (the route fills that in)."""
    settings = uow.find(ProviderSettings, ProviderSettings.create_id(ctx.project_id))
    if settings is not None and settings.provider:
        return str(settings.provider)
    raise ValidationFailed("name the provider to charge through (the project has none set)")


HANDLERS: dict[type[m.Command], Handler] = {
    m.PayInvoice: pay_invoice,
    m.RetryInvoicePayment: retry_payment,
    m.CreateCreditNote: reporting_calls(create_credit_note),  # its refund's call
}
