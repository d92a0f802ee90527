"""Invoices of subscriptions a provider runs, mirrored as Tally invoices in every state.

The provider bills a subscription it runs. When its webhook says one of its invoices
changed (Stripe's ``invoice.finalized``, ``.payment_failed``, ``.paid``, ``.voided``,
``.marked_uncollectible``; Paddle's paid transaction), Tally asks for the whole invoice
(a ``get_invoice`` provider call, one per invoice and kind of event: its id derives from
both, so a redelivered event asks nothing new). The first answer is recorded as a Tally
invoice (``commands/provider_invoice_lines.py``: the provider's lines, amounts, discounts
and tax), finalized under the project's next number, and linked to the provider's
invoice (``ProviderInvoiceLink``); every answer then brings that invoice to the
provider's state: paid by the provider's payment through ``clearing:<provider>`` as
Tally's own charges are, voided, or uncollectible. So it shows in ``GET /v1/invoices``,
the journal and the integration events like an invoice Tally drafted, with what the
customer owes at the provider.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from commands.invoice_charges import provider_payment
from commands.invoice_common import settings_values
from commands.invoice_settlement import apply_charge_success
from commands.invoicing import sequence, summary
from commands.now import context_now
from commands.provider_invoice_lines import drafted
from commands.webhook_lookups import Step, named
from domain.billing_settings import series_prefix
from domain.errors import DomainError
from domain.invoices import OPEN, UNCOLLECTIBLE, VOID, Invoice
from domain.provider_calls import ProviderCall
from domain.provider_invoice_links import ProviderInvoiceLink
from domain.provider_subscription_params import GetInvoiceParams
from domain.subscriptions import Subscription
from domain.webhooks import WebhookEvent

# The events about a provider-run subscription's invoice that ask for it again, each
# once per invoice (the suffix of the call's subject): its finalizing (open), a failed
# payment (still open: past due), its payment, its voiding, its being given up. A paid
# invoice's call has the bare subject it had before the others were mirrored, so a
# redelivered ``invoice.paid`` of an invoice mirrored then asks nothing again.
FETCHED_ON = {
    "invoice.finalized": ":finalized",
    "invoice.payment_failed": ":payment_failed",
    "invoice.paid": "",
    "invoice.voided": ":voided",
    "invoice.marked_uncollectible": ":uncollectible",
}


def provider_bills(sub: Subscription, event: WebhookEvent) -> bool:
    """Whether ``event`` reports a change to an invoice of a subscription its provider
    runs: a Stripe invoice's (``FETCHED_ON``), or a Paddle transaction of the
    subscription paid (a payment event whose object names the subscription it bills; a
    Stripe payment intent names none)."""
    billed = event.type in FETCHED_ON or (
        event.type == "payment.succeeded" and bool(event.data.get("subscription_ref"))
    )
    return (
        billed
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
    subject = f"{sub.provider}:{invoice_ref}{FETCHED_ON.get(event.type, '')}"

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


def invoice_changed(uow: UnitOfWork, ctx: Context, event: WebhookEvent) -> list[Step]:
    """An invoice event that pays nothing (finalized, voided, uncollectible, a failed
    payment): the invoice is asked for when it belongs to a subscription the provider
    runs; Tally's own invoices change by Tally's commands, not by these."""
    sub: Subscription | None = named(uow, ctx, Subscription, event, "subscription")
    if sub is None or not provider_bills(sub, event):
        return []
    return [fetch_invoice(uow, ctx, sub, event)]


# An invoice the provider may still change at will is not mirrored until it is final
# (Stripe finalizes a draft about an hour after making it, ``invoice.finalized``).
NOT_YET = ("draft",)


def mirror_invoice(
    uow: UnitOfWork, ctx: Context, call: ProviderCall, found: dict[str, Any]
) -> dict[str, Any]:
    """Record the fetched invoice (``found``: the outbox's plain form of a
    ``ProviderInvoice``) as a finalized Tally invoice the first time, then follow its
    state: paid as far as the provider says it was paid, voided, or uncollectible."""
    params = call.request_params
    assert isinstance(params, GetInvoiceParams)
    sub = uow.get(Subscription, UUID(params.subscription_id), ctx.project_id)
    status, invoice_ref = str(found.get("status") or ""), str(found.get("invoice_ref") or "")
    link = uow.find(
        ProviderInvoiceLink,
        ProviderInvoiceLink.create_id(ctx.project_id, call.provider, invoice_ref),
    )
    if link is not None:
        invoice = uow.get(Invoice, link.invoice_id, ctx.project_id)
    elif status in NOT_YET:
        return {"invoice_mirror": f"skipped: {status} at {call.provider}"}
    elif str(found.get("currency")) != sub.currency:
        return {"invoice_mirror": f"skipped: billed in {found.get('currency')}"}
    else:
        made = _first_mirror(uow, ctx, call, sub, found)
        if made is None:
            return {}
        invoice = made
    _follow(uow, ctx, call, invoice, found)
    return {"invoice": summary(uow, invoice), "provider_status": status}


def _first_mirror(
    uow: UnitOfWork, ctx: Context, call: ProviderCall, sub: Subscription, found: dict[str, Any]
) -> Invoice | None:
    """The provider's invoice finalized as a Tally invoice, with its link; None (the
    call failed, saying why) if what the provider billed does not fit Tally's limits."""
    try:
        invoice = drafted(uow, ctx, call, sub, found)
        invoice.check_finalize()
    except DomainError as refused:
        # An amount past the money limit, too many lines: nothing is recorded and the
        # call fails, saying why (GET /v1/provider_calls), rather than its outcome
        # failing on every retry.
        call.fail("invoice_not_recorded", f"{refused.code}: {refused.detail}"[:500])
        return None
    prefix = series_prefix(settings_values(uow, ctx)["invoice_prefix"], "")
    numbers = sequence(uow, ctx, prefix)
    # No Tally credit balance is applied: the provider collects the invoice itself.
    invoice.finalize(numbers, 0, context_now(ctx), prefix)
    uow.add(numbers)
    uow.add(invoice)
    uow.add(
        ProviderInvoiceLink.start(
            ctx.project_id, call.provider, str(found["invoice_ref"]), invoice.id
        )
    )
    return invoice


def _follow(
    uow: UnitOfWork, ctx: Context, call: ProviderCall, invoice: Invoice, found: dict[str, Any]
) -> None:
    """Bring the Tally invoice to the provider's state. Only forward: an answer older
    than what the invoice shows (fetched before a later one was applied) changes
    nothing, since each state it could name was passed already."""
    status, now = str(found.get("status") or ""), context_now(ctx)
    _record_paid(uow, ctx, call, invoice, found)
    if status == VOID and invoice.status == OPEN and not invoice.amount_paid:
        invoice.void(now)
    elif status == UNCOLLECTIBLE and invoice.status == OPEN:
        invoice.mark_uncollectible(now)


def _record_paid(
    uow: UnitOfWork, ctx: Context, call: ProviderCall, invoice: Invoice, found: dict[str, Any]
) -> None:
    """What the provider says was paid beyond what the invoice records, by the payment
    it names. Only a payment the provider named is recorded (an invoice id is not a
    payment: domain/payment_refs.py); one it did not name leaves the invoice open, for a
    person."""
    paid = int(found.get("amount_paid_minor") or 0) - invoice.amount_paid
    paid = min(paid, invoice.amount_remaining)
    if paid <= 0 or not found.get("payment_ref") or invoice.status not in (OPEN, UNCOLLECTIBLE):
        return
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
        uow, ctx, invoice, call.provider, reference, paid, context_now(ctx), transaction_id=txn.id
    )
