"""Invoices of subscriptions a provider runs, mirrored as Tally invoices.

The provider bills a subscription it runs. When its webhook says an invoice was paid
(Stripe's ``invoice.paid``), Tally asks for the whole invoice (a ``get_invoice``
provider call, one per provider invoice: its id derives from the invoice's id, so a
redelivered or second event asks nothing new) and the call's answer is recorded as a
Tally invoice: the provider's lines, finalized under the project's next number, and paid
by the provider's payment through ``clearing:<provider>``, as Tally's own charges are.
So it shows in ``GET /v1/invoices``, the journal and the integration events like an
invoice Tally drafted. Tax and discounts are the provider's: Tally records what they
came to as one line (``adjustment``), not as its own tax rates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from commands.invoice_charges import provider_payment
from commands.invoice_common import settings_values
from commands.invoice_settlement import apply_charge_success
from commands.invoicing import sequence, summary
from commands.now import context_now
from commands.webhook_lookups import Step
from domain.billing_settings import series_prefix
from domain.errors import DomainError
from domain.invoices import Invoice
from domain.limits import MAX_DESCRIPTION_CHARS, MAX_QUANTITY
from domain.provider_calls import ProviderCall
from domain.provider_subscription_params import GetInvoiceParams
from domain.subscriptions import Subscription
from domain.webhooks import WebhookEvent


def provider_bills(sub: Subscription, event: WebhookEvent) -> bool:
    """Whether ``event`` reports a paid invoice of a subscription its provider runs: a
    Stripe invoice, or a Paddle transaction of the subscription (a payment event whose
    object names the subscription it bills; a Stripe payment intent names none)."""
    paid = event.type == "invoice.paid" or (
        event.type == "payment.succeeded" and bool(event.data.get("subscription_ref"))
    )
    return (
        paid
        and sub.run_by == "provider"
        and event.provider == sub.provider
        and bool(event.object_ref)
    )


def fetch_invoice(uow: UnitOfWork, ctx: Context, sub: Subscription, event: WebhookEvent) -> Step:
    """The step that asks for the invoice an event names, unless it was asked for."""
    invoice_ref = event.object_ref
    params = GetInvoiceParams(
        subscription_id=str(sub.id),
        invoice_ref=invoice_ref,
        references={"tally_project": str(ctx.project_id), "tally_subscription": str(sub.id)},
    )
    subject = f"{sub.provider}:{invoice_ref}"

    def request() -> dict[str, Any] | None:
        if uow.find(ProviderCall, ProviderCall.create_id(ctx.project_id, "get_invoice", subject)):
            return None
        call = ProviderCall.request(
            project_id=ctx.project_id,
            provider=sub.provider,
            subject=subject,
            params=params,
            now=context_now(ctx),
        )
        uow.add(call)
        return {"action": "invoice_requested", "invoice_ref": invoice_ref, "call": str(call.id)}

    return request


def _when(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def mirror_invoice(
    uow: UnitOfWork, ctx: Context, call: ProviderCall, found: dict[str, Any]
) -> dict[str, Any]:
    """Record the fetched invoice (``found``: the outbox's plain form of a
    ``ProviderInvoice``) as a finalized Tally invoice, paid as far as it was paid."""
    params = call.request_params
    assert isinstance(params, GetInvoiceParams)
    sub = uow.get(Subscription, UUID(params.subscription_id), ctx.project_id)
    if str(found.get("currency")) != sub.currency:
        return {"invoice_mirror": f"skipped: billed in {found.get('currency')}"}
    try:
        invoice = _drafted(call, sub, found)
        invoice.check_finalize()
    except DomainError as refused:
        # What the provider billed does not fit Tally's limits (an amount past the money
        # limit, too many lines): nothing is recorded and the call fails, saying why
        # (GET /v1/provider_calls), rather than its outcome failing on every retry.
        call.fail("invoice_not_recorded", f"{refused.code}: {refused.detail}"[:500])
        return {}
    now = context_now(ctx)
    prefix = series_prefix(settings_values(uow, ctx)["invoice_prefix"], "")
    numbers = sequence(uow, ctx, prefix)
    # No Tally credit balance is applied: the provider collected the invoice itself.
    invoice.finalize(numbers, 0, now, prefix)
    uow.add(numbers)
    uow.add(invoice)
    paid = min(int(found.get("amount_paid_minor") or 0), invoice.amount_remaining)
    # Only a payment the provider named is recorded (an invoice id is not a payment:
    # domain/payment_refs.py); one it did not name leaves the invoice open, for a person.
    if paid > 0 and found.get("payment_ref"):
        reference = str(found["payment_ref"])[:200]
        invoice.check_payment(paid)
        txn = provider_payment(
            uow,
            ctx,
            invoice,
            call.provider,
            paid,
            key=f"provider_invoice:{call.id}",
            complete_now=True,
            description=f"{call.provider} payment {reference} of invoice {invoice.number}"[:500],
        )
        apply_charge_success(
            uow, ctx, invoice, call.provider, reference, paid, now, transaction_id=txn.id
        )
    return {"invoice": summary(uow, invoice)}


def _drafted(call: ProviderCall, sub: Subscription, found: dict[str, Any]) -> Invoice:
    """The draft of the provider's invoice (not in the unit of work: a refusal leaves
    nothing behind)."""
    start, end = _when(found.get("period_start")), _when(found.get("period_end"))
    label = str(found.get("number") or found.get("invoice_ref"))
    invoice = Invoice(
        project_id=sub.project_id,
        customer_id=sub.customer_id,
        currency=sub.currency,
        subscription_id=sub.id,
        period_start=start if start and end else None,
        period_end=end if start and end else None,
        description=f"{call.provider} invoice {label}"[:MAX_DESCRIPTION_CHARS],
    )
    _add_lines(invoice, call.provider, list(found.get("lines") or ()), int(found["total_minor"]))
    _add_balance(invoice, call.provider, int(found.get("balance_applied_minor") or 0))
    return invoice


def _add_balance(invoice: Invoice, provider: str, applied: int) -> None:
    """The customer's balance at the provider as one line, so the mirror's total is
    what the provider asked the customer to pay: credit held there that paid part of it
    takes that part off (the invoice is then paid by the rest, not open for ever), and a
    negative total the provider kept as balance brings the invoice to zero. That credit
    is the provider's to give, never Tally's credit too (no ``customer_credit`` is
    granted), and revenue comes down when the credit is used."""
    if applied > 0:
        text = f"Applied from the customer's balance at {provider}"
        invoice.add_line(f"{provider}_balance", "proration", text, 1, -applied, [])
    elif applied < 0:
        text = f"Added to the customer's balance at {provider}"
        invoice.add_line(f"{provider}_balance", "one_time", text, 1, -applied, [])


def _add_lines(invoice: Invoice, provider: str, lines: list[Any], total: int) -> None:
    """The provider's lines (a credit for unused time is a proration line, the only
    kind that may be negative), and what tax and discounts changed as one line."""
    listed = 0
    for n, line in enumerate(lines, start=1):
        amount, quantity = int(line["amount_minor"]), max(1, int(line["quantity"]))
        description = str(line.get("description") or "Subscription")[:MAX_DESCRIPTION_CHARS]
        # A unit price the total does not divide into evenly, or a metered quantity past
        # Tally's limit (Stripe bills millions of units): one unit of the line's amount,
        # as Tally's own usage lines are recorded.
        if amount % quantity or quantity > MAX_QUANTITY:
            amount_each, quantity = amount, 1
        else:
            amount_each = amount // quantity
        kind = "proration" if amount < 0 else "subscription"
        invoice.add_line(f"{provider}_{n}", kind, description, quantity, amount_each, [])
        listed += amount
    if total != listed or not lines:
        kind = "proration" if total < listed else "one_time"
        text = f"Tax and discounts by {provider}"
        invoice.add_line(f"{provider}_adjustment", kind, text, 1, total - listed, [])
