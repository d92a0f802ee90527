"""What a recorded provider event changes in Tally (the translation of ``ApplyWebhookEvent``).

Each kind of event looks at the Tally objects its ``tally_*`` references name, checks
everything first, then changes them through the same handlers and domain methods the API
uses. The translation is order-independent: each change happens only from the state it
expects (a pending transaction is confirmed, an open invoice is paid, an incomplete
subscription is activated), so the second of two events reporting one payment
(``checkout.completed`` and ``payment.succeeded``) changes nothing, and an event whose
object is not there yet, or not ready (an invoice still a draft, a refund of a payment
not yet confirmed), raises ``NotYetApplicable`` and is parked.

Returns ``(effects, reason)``: what was done, or why nothing was.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from commands import ledger
from commands import messages as m
from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from commands.credit_top_ups import grant_top_up, top_up_declined
from commands.invoice_charges import provider_payment, settle_charge
from commands.invoice_settlement import apply_charge_failure, apply_charge_success
from commands.invoicing import find_dunning, load_invoice
from commands.payment_methods import sync_call
from commands.provider_events import EventType
from commands.provider_invoices import fetch_invoice, invoice_changed, provider_bills
from commands.webhook_lookups import Step, activate, named
from commands.webhook_notices import NOTHING_TO_DO, trial_announced
from commands.webhook_payment_methods import METHOD_EVENTS, methods_changed
from commands.webhook_refunds import refund_failed, refunded
from commands.webhook_subscriptions import customer_linked, subscription_changed
from domain.charge_attempts import awaits_confirmation
from domain.customers import Customer
from domain.invoices import DRAFT, OPEN, UNCOLLECTIBLE, Invoice
from domain.payment_methods import PaymentMethods
from domain.provider_calls import ProviderCall
from domain.subscriptions import Subscription
from domain.transactions import PROCESSING, Transaction
from domain.webhooks import AmountMismatch, NotYetApplicable, WebhookEvent

Effects = list[dict[str, Any]]

PAID = {EventType.PAYMENT_SUCCEEDED, EventType.CHECKOUT_COMPLETED, EventType.INVOICE_PAID}
UNPAID = {EventType.PAYMENT_FAILED, EventType.INVOICE_PAYMENT_FAILED}
UNPAID_TYPES = {str(kind) for kind in UNPAID}
ABANDONED = {EventType.CHECKOUT_CANCELED, EventType.CHECKOUT_EXPIRED}
# Providers whose hosted checkout stays open after a declined card (the customer may try
# another), reporting each declined attempt as a failed payment: Stripe's Checkout
# Session, Paddle's checkout (the transaction stays ready), the stub's page.
RETRY_ON_PAGE = ("stub", "stripe", "paddle")
# Invoice events that pay nothing: they change the invoice of a subscription the provider
# runs (commands/provider_invoices.py), and nothing of Tally's own invoices.
INVOICE_STATE_EVENTS = {
    EventType.INVOICE_FINALIZED,
    EventType.INVOICE_VOIDED,
    EventType.INVOICE_UNCOLLECTIBLE,
}
SUBSCRIPTION_EVENTS = {
    EventType.SUBSCRIPTION_CREATED,
    EventType.SUBSCRIPTION_UPDATED,
    EventType.SUBSCRIPTION_CANCELED,
}


def translate(uow: UnitOfWork, ctx: Context, event: WebhookEvent) -> tuple[Effects, str]:
    kind = EventType(event.type) if event.type in set(EventType) else EventType.UNKNOWN
    if kind in PAID:
        steps = _paid(uow, ctx, event)
    elif kind in UNPAID or kind in ABANDONED:
        steps = _not_paid(uow, ctx, event)
    elif kind is EventType.REFUND_SUCCEEDED:
        steps = refunded(uow, ctx, event)
    elif kind is EventType.REFUND_FAILED:
        steps = refund_failed(uow, ctx, event)
    elif kind in SUBSCRIPTION_EVENTS:
        steps = subscription_changed(uow, ctx, event, kind)
    elif kind in INVOICE_STATE_EVENTS and (found := invoice_changed(uow, ctx, event)):
        steps = found
    elif kind is EventType.CUSTOMER_CREATED:
        steps = customer_linked(uow, ctx, event)
    elif kind is EventType.TRIAL_WILL_END:
        steps = trial_announced(uow, ctx, event)
    elif kind in METHOD_EVENTS:
        steps = methods_changed(uow, ctx, event, kind)
    else:
        why = NOTHING_TO_DO.get(kind, "")
        return [], f"{event.provider_type or event.type} changes nothing in Tally" + (
            f": {why}" if why else ""
        )
    # Every check is done; now the changes, which their own guards let through.
    effects = [effect for step in steps if (effect := step()) is not None]
    return effects, "" if effects else "already applied by an earlier event"


# -- lookups: a named object that is missing is "not yet" ------------------------------


def _payment_call(uow: UnitOfWork, ctx: Context, txn_id: UUID) -> ProviderCall | None:
    for operation in ("checkout", "charge"):
        call = uow.find(
            ProviderCall, ProviderCall.create_id(ctx.project_id, operation, str(txn_id))
        )
        if call is not None:
            return call
    return None


# -- payments ------------------------------------------------------------------------


def _paid(uow: UnitOfWork, ctx: Context, event: WebhookEvent) -> list[Step]:
    steps: list[Step] = []
    txn: Transaction | None = named(uow, ctx, Transaction, event, "transaction")
    invoice: Invoice | None = named(uow, ctx, Invoice, event, "invoice")
    sub: Subscription | None = named(uow, ctx, Subscription, event, "subscription")
    customer: Customer | None = named(uow, ctx, Customer, event, "customer")
    # The provider's payment (what a refund names), never the object the event is
    # about: for an invoice or a checkout session that is not a payment.
    payment_ref = str(event.data.get("payment_ref") or "")
    if txn is not None:
        call = _payment_call(uow, ctx, txn.id)
        if call is not None and payment_ref and call.payment_ref != payment_ref:
            steps.append(lambda: _note(call, payment_ref))
        if txn.state == PROCESSING:
            _check_amount(event, txn)
            steps.append(lambda: complete_transaction(uow, ctx, txn))
    if invoice is not None:
        if invoice.status == DRAFT:
            raise NotYetApplicable(f"invoice {invoice.id} is not finalized yet", id=str(invoice.id))
        charge: ProviderCall | None = named(uow, ctx, ProviderCall, event, "charge_call")
        if charge is not None:
            # Tally's own charge: settled once, by this event or by the outbox's answer.
            if charge.pending or awaits_confirmation(charge):
                steps.append(lambda: _charge_succeeded(uow, ctx, charge, payment_ref))
        elif invoice.status in (OPEN, UNCOLLECTIBLE) and invoice.amount_remaining > 0:
            steps.append(lambda: _pay_invoice(uow, ctx, event, invoice, payment_ref))
    if sub is not None:
        steps.append(lambda: activate(uow, ctx, sub))
        if provider_bills(sub, event):
            steps.append(fetch_invoice(uow, ctx, sub, event))
    method = str(event.data.get("payment_method_ref") or "")
    # A method saved by a trial's checkout is the one its subscription is to be billed
    # with, so it becomes the default, as at Stripe.
    setup = event.references.get("tally_checkout_mode") == "setup"
    if customer is not None and method:
        steps.append(lambda: _attach(uow, ctx, event.provider, customer, method, setup))
    return steps


def _check_amount(event: WebhookEvent, txn: Transaction) -> None:
    """A payment of another amount or currency than the transaction asked for must not
    confirm it: refused, so the event is parked (and, if it never fits, fails) for a
    person to look at, and the transaction stays pending."""
    amount, currency = event.data.get("amount_minor"), event.data.get("currency")
    if amount is not None and int(amount) != txn.amount:
        raise AmountMismatch(
            f"the provider reports {amount}, transaction {txn.id} is for {txn.amount}",
            reported=int(amount),
            expected=txn.amount,
        )
    if currency and str(currency).upper() != txn.currency:
        raise AmountMismatch(
            f"the provider reports {currency}, transaction {txn.id} is in {txn.currency}",
            reported=str(currency),
            expected=txn.currency,
        )


def complete_transaction(uow: UnitOfWork, ctx: Context, txn: Transaction) -> dict[str, Any]:
    """Confirm a pending provider payment: a wallet top-up credits the wallet (the
    ledger's ConfirmTransaction), a checkout sale just completes its entry."""
    if txn.to_ref.startswith("wallet:"):
        ledger.confirm_transaction(uow, m.ConfirmTransaction(transaction_id=txn.id), ctx)
    else:
        txn.complete()
        if txn.to_ref.startswith("credits:"):  # an automatic credit top-up (issue 13)
            grant_top_up(uow, ctx, txn)
    return {"action": "transaction_completed", "transaction_id": str(txn.id), "amount": txn.amount}


def _note(call: ProviderCall, payment_ref: str) -> None:
    call.note_payment(payment_ref)


def _charge_succeeded(
    uow: UnitOfWork, ctx: Context, call: ProviderCall, payment_ref: str
) -> dict[str, Any]:
    payment_ref = payment_ref or call.payment_ref
    settled = settle_charge(uow, ctx, call, payment_ref=payment_ref, failure=None)
    if call.pending:
        call.succeed({"payment_ref": payment_ref, "status": "succeeded", "via": "webhook"}, ctx.now)
    return {"action": "invoice_charge_settled", **settled}


def _pay_invoice(
    uow: UnitOfWork, ctx: Context, event: WebhookEvent, invoice: Invoice, payment_ref: str
) -> dict[str, Any] | None:
    """A payment the provider collected on its own (a hosted checkout, an invoice of a
    subscription it runs): like Tally's own charges, a completed ledger Transaction
    ``clearing:<provider>`` -> ``receivable:<customer>`` that the invoice records. The
    provider's payment reference is recorded once: a second event about the same
    payment (``checkout.completed`` then ``invoice.paid``) changes nothing."""
    # A payment the provider named no id for is recorded without one (a refund of it
    # then has nothing to name); the invoice's own guard refuses an id of another kind.
    reference = payment_ref[:200]
    if invoice.amount_remaining <= 0 or any(p["reference"] == reference for p in invoice.payments):
        return None
    reported = event.data.get("amount_minor")
    amount = min(int(reported), invoice.amount_remaining) if reported else invoice.amount_remaining
    _, _, now = load_invoice(uow, ctx, invoice.id)
    invoice.check_payment(amount)
    txn = provider_payment(
        uow,
        ctx,
        invoice,
        event.provider,
        amount,
        key=f"provider_payment:{invoice.id}:{reference or event.event_id}",
        complete_now=True,
        description=f"{event.provider} payment {reference or event.event_id} of invoice "
        f"{invoice.number}"[:500],
    )
    apply_charge_success(
        uow, ctx, invoice, event.provider, reference, amount, now, transaction_id=txn.id
    )
    return {
        "action": "invoice_paid",
        "invoice_id": str(invoice.id),
        "status": invoice.status,
        "transaction_id": str(txn.id),
    }


def _attach(
    uow: UnitOfWork,
    ctx: Context,
    provider: str,
    customer: Customer,
    method: str,
    make_default: bool = False,
) -> dict[str, Any] | None:
    methods = uow.find(PaymentMethods, PaymentMethods.create_id(ctx.project_id, customer.id))
    if methods is None:
        methods = PaymentMethods.start(ctx.project_id, customer.id)
    before = methods.default_ref
    attached = methods.attach(provider, method, "saved at checkout")
    defaulted = make_default and methods.default_ref != method
    if defaulted:
        methods.set_default(method)
    if not (attached or defaulted):
        return None
    uow.add(methods)
    if make_default and before != method:
        # The provider saved the method (a checkout); making it the default is Tally's
        # choice, which the provider's customer follows (commands/payment_methods.py).
        sync_call(uow, ctx, customer, methods, "set_default", method, provider)
    return {"action": "payment_method_attached", "customer_id": str(customer.id)}


def _not_paid(uow: UnitOfWork, ctx: Context, event: WebhookEvent) -> list[Step]:
    reason = str(event.data.get("failure_reason") or event.data.get("status") or event.type)
    steps = _invoice_not_paid(uow, ctx, event, reason)
    if event.type == EventType.INVOICE_PAYMENT_FAILED:
        steps += invoice_changed(uow, ctx, event)  # an invoice the provider collects
    txn: Transaction | None = named(uow, ctx, Transaction, event, "transaction")
    if txn is None or txn.state != PROCESSING:
        return steps
    if event.type == EventType.PAYMENT_FAILED and _page_still_open(uow, ctx, event, txn):
        return [*steps, lambda: _attempt_failed(txn, reason)]

    def fail() -> dict[str, Any]:
        ledger.fail_transaction(uow, m.FailTransaction(transaction_id=txn.id, reason=reason), ctx)
        top_up_declined(uow, ctx, txn, reason)  # an automatic credit top-up's (issue 13)
        return {"action": "transaction_failed", "transaction_id": str(txn.id), "reason": reason}

    return [*steps, fail]


def _page_still_open(uow: UnitOfWork, ctx: Context, event: WebhookEvent, txn: Transaction) -> bool:
    """Whether a failed payment of a hosted checkout's sale or top-up was one attempt on
    a page the customer can try again on (another card), so that the checkout's end
    (completed, canceled or expired) decides the transaction. Failing it at the first
    decline lost the payment the customer then made on the same page: its success found
    the transaction failed and was ignored. At YooKassa a declined payment is final."""
    call = _payment_call(uow, ctx, txn.id)
    return call is not None and call.operation == "checkout" and event.provider in RETRY_ON_PAGE


def _attempt_failed(txn: Transaction, reason: str) -> dict[str, Any]:
    return {"action": "checkout_attempt_failed", "transaction_id": str(txn.id), "reason": reason}


def _invoice_not_paid(
    uow: UnitOfWork, ctx: Context, event: WebhookEvent, reason: str
) -> list[Step]:
    """A failed payment of an invoice goes to dunning, once per attempt: Tally's own
    charge is failed here unless the outbox's answer did it first; a payment the
    provider tried on its own counts only by its ``invoice.payment_failed`` (the
    payment's own event about the same attempt would count it twice)."""
    invoice: Invoice | None = named(uow, ctx, Invoice, event, "invoice")
    if invoice is None or event.type not in UNPAID_TYPES:
        return []
    charge: ProviderCall | None = named(uow, ctx, ProviderCall, event, "charge_call")
    if charge is not None:
        if not (charge.pending or awaits_confirmation(charge)):
            return []

        def fail_charge() -> dict[str, Any]:
            settled = settle_charge(uow, ctx, charge, payment_ref="", failure=reason[:100])
            if charge.pending:
                charge.fail(reason[:100], f"reported by {event.provider}: {event.type}")
            return {"action": "invoice_charge_failed", **settled}

        return [fail_charge]
    if event.type != EventType.INVOICE_PAYMENT_FAILED or invoice.status != OPEN:
        return []

    def dunning() -> dict[str, Any]:
        _, _, now = load_invoice(uow, ctx, invoice.id)
        retry = find_dunning(uow, invoice) is not None
        step = apply_charge_failure(
            uow, ctx, invoice, event.provider, reason[:100], now, retry=retry
        )
        return {"action": "invoice_payment_failed", "invoice_id": str(invoice.id), "step": step}

    return [dunning]
