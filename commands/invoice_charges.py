"""Charging an invoice through the payment provider: requested by a command, made by the
outbox, settled by the provider's answer or its webhook, whichever comes first.

A command (``PayInvoice`` with ``method=provider``, the automatic charge of a finalized
subscription invoice, a due dunning retry) never talks to the provider: it records a
``ProviderCall`` (operation ``charge``) in the same transaction as everything else it
does, and answers with a *pending* attempt. The outbox (``adapters/outbox.py``) makes
the call after that commit, with the call's fixed idempotency key, and reports the
answer through ``RecordProviderCallOutcome``, whose handler calls ``settle_charge``:

- succeeded: the invoice records the payment against ``clearing:<provider>`` and what
  it settles (dunning ends, a past_due subscription is active again). If the invoice
  cannot take it any more (it was paid another way, or voided, while the charge was in
  flight), the money is given back: a refund call is requested at once, so nothing is
  kept twice;
- declined, needs the customer's action, or the provider stayed unavailable through
  every retry: dunning records the failed attempt and schedules the next one.

One call per (invoice, attempt, amount paid so far): asking again while a charge is in
flight finds the same call, so a repeated request, the scheduler and a client racing
never charge twice. The same attempt's webhook (``payment_intent.succeeded``,
``invoice.payment_failed``...) settles the call if it comes first; the outbox's answer
then finds the call settled and changes nothing (``commands/webhook_effects.py``).

The charge uses the customer's default payment method at that provider (the payment
methods API, or the one a checkout saved). A customer with none fails the attempt at
once with ``no_payment_method``, which dunning treats like a decline: the customer can
attach one before the retry.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.invoice_settlement import apply_charge_failure, apply_charge_success
from commands.invoicing import billing_for, find_dunning, load_invoice
from commands.provider_customers import named_customer
from domain.accounts import clearing_ref
from domain.charge_attempts import charge_attempt
from domain.customers import Customer
from domain.errors import InvalidTransition
from domain.invoices import OPEN, UNCOLLECTIBLE, Invoice, receivable_ref
from domain.money import Money
from domain.payment_methods import PaymentMethods
from domain.provider_call_params import ChargeParams, RefundParams
from domain.provider_calls import ProviderCall
from domain.transactions import PROCESSING, Transaction

NO_PAYMENT_METHOD = "no_payment_method"
# An uncollectible invoice can still be paid (it only stopped dunning).
PAYABLE = (OPEN, UNCOLLECTIBLE)


def requested_calls(uow: UnitOfWork) -> list[str]:
    """The provider calls the current command asked for (a charge, a refund, the
    customer one waits for): the API makes them right after the commit."""
    return [str(call.id) for call in uow.created(ProviderCall) if call.pending]


def reporting_calls(handler: Handler) -> Handler:
    """``handler``, whose answer also lists the provider calls it asked for
    (``provider_calls``), so that the route can make them before it answers."""

    def run(uow: UnitOfWork, cmd: Any, ctx: Context) -> Result:
        result = handler(uow, cmd, ctx)
        calls = requested_calls(uow)
        return replace(result, body={**result.body, "provider_calls": calls}) if calls else result

    return run


def payment_method(uow: UnitOfWork, ctx: Context, customer: Customer, provider: str) -> str | None:
    """The customer's default payment method at ``provider``, else its first one there."""
    methods = uow.find(PaymentMethods, PaymentMethods.create_id(ctx.project_id, customer.id))
    if methods is None:
        return None
    default = methods.methods.get(methods.default_ref or "")
    if default is not None and default["provider"] == provider:
        return str(default["id"])
    return next((str(m["id"]) for m in methods.methods.values() if m["provider"] == provider), None)


def charge_params(call: ProviderCall) -> ChargeParams:
    """The params of a charge call (``call.operation == "charge"``)."""
    params = call.request_params
    assert isinstance(params, ChargeParams), call.operation
    return params


def request_charge(
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
    """Ask the outbox to charge ``amount`` for the invoice (the caller checked that the
    invoice can take it). ``now`` is the customer's time (its test clock's, if any);
    the call itself is scheduled on the real clock (``ctx.now``), which the outbox
    runs on."""
    assert ctx.now is not None
    dunning = find_dunning(uow, invoice)
    attempt = (dunning.attempt_count if dunning is not None else 0) + 1
    subject = f"invoice:{invoice.id}:{attempt}:{invoice.amount_paid}"
    call_id = ProviderCall.create_id(ctx.project_id, "charge", subject)
    existing = uow.find(ProviderCall, call_id)
    if existing is not None:
        in_flight = charge_params(existing).amount_minor
        if existing.pending and in_flight != amount:
            raise InvalidTransition(
                f"a charge of {in_flight} for invoice {invoice.id} is "
                f"in flight (provider call {existing.id}); wait for its answer",
                provider_call_id=str(existing.id),
            )
        return charge_attempt(existing, attempt)
    method = payment_method(uow, ctx, customer, provider_name)
    if method is None:
        step = apply_charge_failure(
            uow, ctx, invoice, provider_name, NO_PAYMENT_METHOD, now, retry=retry
        )
        return {
            "status": "failed",
            "succeeded": False,
            "attempt": attempt,
            "amount": amount,
            "provider": provider_name,
            "provider_call_id": None,
            "reference": None,
            "failure_reason": NO_PAYMENT_METHOD,
            "step": step,
        }
    # The provider's customer: its reference, or (Stripe, Paddle) the create_customer
    # call this charge waits for; the outbox makes that one first.
    named = named_customer(uow, ctx, customer, provider_name)
    # Every payment is a ledger Transaction: this one waits in processing for the
    # provider's answer, and its completion posts the payment's entry.
    txn = provider_payment(
        uow,
        ctx,
        invoice,
        provider_name,
        amount,
        key=f"charge:{call_id}",
        complete_now=False,
        description=f"charge of invoice {invoice.number}",
    )
    params = ChargeParams(
        invoice_id=str(invoice.id),
        transaction_id=str(txn.id),
        customer_id=str(customer.id),
        customer_ref=named.customer_ref or str(customer.id),
        customer_call=named.customer_call,
        payment_method_ref=method,
        amount_minor=amount,
        currency=invoice.currency,
        description=f"invoice {invoice.number}",
        retry=retry,
        attempt=attempt,
        # The provider reports the payment with these, so its webhook finds this call.
        references={
            "tally_invoice": str(invoice.id),
            "tally_customer": str(customer.id),
            "tally_charge_call": str(call_id),
        },
    )
    call = ProviderCall.request(
        project_id=ctx.project_id,
        provider=provider_name,
        subject=subject,
        params=params,
        now=ctx.now,
    )
    uow.add(call)
    if retry:
        # The retry is in flight: the scheduler need not ask again until it is answered
        # (a failure schedules the next retry, a success ends dunning).
        billing = billing_for(uow, ctx, invoice.customer_id, invoice.currency)
        billing.clear(invoice.id)
        uow.add(billing)
    return charge_attempt(call, attempt)


def provider_payment(
    uow: UnitOfWork,
    ctx: Context,
    invoice: Invoice,
    provider: str,
    amount: int,
    *,
    key: str,
    complete_now: bool,
    description: str,
) -> Transaction:
    """The ledger Transaction of a provider's payment of an invoice (kind ``deposit``,
    ``clearing:<provider>`` -> ``receivable:<customer>``), its id derived from ``key``;
    completing it posts the payment's entry, so the invoice records none of its own."""
    txn = Transaction.begin(
        id=Transaction.id_for(ctx.project_id, key),
        project_id=ctx.project_id,
        kind="deposit",
        amount=Money(amount, invoice.currency),
        from_ref=clearing_ref(provider),
        to_ref=receivable_ref(invoice.customer_id),
        complete_now=complete_now,
        description=description,
        external_ref=str(invoice.id),
    )
    uow.add(txn)
    return txn


def settle_charge(
    uow: UnitOfWork,
    ctx: Context,
    call: ProviderCall,
    *,
    payment_ref: str,
    failure: str | None,
) -> dict[str, Any]:
    """Apply the answer to an invoice's charge call (``failure`` None: it succeeded).
    The caller then settles the call itself; this only changes the invoice and what
    hangs off it."""
    params = charge_params(call)
    assert params.invoice_id is not None, "an invoice's charge names its invoice"
    invoice, _, now = load_invoice(uow, ctx, UUID(params.invoice_id))
    amount = params.amount_minor
    txn = charge_transaction(uow, ctx, call)
    body: dict[str, Any] = {"invoice_id": str(invoice.id)}
    if txn is not None:
        body["transaction_id"] = str(txn.id)
    if failure is not None:
        if txn is not None and txn.state == PROCESSING:
            txn.fail(failure)
        if invoice.status == OPEN:
            body["step"] = apply_charge_failure(
                uow, ctx, invoice, call.provider, failure, now, retry=bool(params.retry)
            )
        return body
    if payment_ref and any(p["reference"] == payment_ref for p in invoice.payments):
        body["step"] = "already_recorded"  # a second report of one payment
        return body
    if txn is not None and txn.state == PROCESSING:
        txn.complete()  # the money came in: clearing:<provider> -x, receivable +x
    if invoice.status in PAYABLE and amount <= invoice.amount_remaining:
        body["step"] = apply_charge_success(
            uow,
            ctx,
            invoice,
            call.provider,
            payment_ref,
            amount,
            now,
            transaction_id=txn.id if txn is not None else None,
        )
        return body
    body["step"] = "refund_requested"
    body["refund_call"] = give_back(uow, ctx, call, payment_ref, invoice).summary()
    return body


def charge_transaction(uow: UnitOfWork, ctx: Context, call: ProviderCall) -> Transaction | None:
    """The ledger Transaction of an invoice charge (None for a charge recorded before
    charges had one: its invoice posts the payment's entry itself)."""
    txn_id = charge_params(call).transaction_id
    return uow.get(Transaction, UUID(txn_id), ctx.project_id) if txn_id else None


def give_back(
    uow: UnitOfWork, ctx: Context, call: ProviderCall, payment_ref: str, invoice: Invoice
) -> ProviderCall:
    """Refund a charge the invoice could not take (it was settled while the charge was
    in flight): the customer is never charged twice for one invoice."""
    assert ctx.now is not None
    charge = charge_params(call)
    refund = ProviderCall.request(
        project_id=ctx.project_id,
        provider=call.provider,
        subject=f"overpayment:{call.id}",
        params=RefundParams(
            payment_ref=payment_ref,
            amount_minor=charge.amount_minor,
            currency=charge.currency,
            reason=f"invoice {invoice.number} was already settled",
            # Its success reverses the charge's transaction (commands/provider_calls.py).
            transaction_id=charge.transaction_id,
            references={"tally_invoice": str(invoice.id), "tally_charge_call": str(call.id)},
        ),
        now=ctx.now,
    )
    found = uow.find(ProviderCall, refund.id)
    if found is not None:
        return found
    uow.add(refund)
    return refund
