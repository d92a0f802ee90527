"""What a provider's refund events change in Tally (part of ``ApplyWebhookEvent``).

``refund.succeeded`` reverses the refunded transaction by the refund, once, whichever of
the webhook and the outbox's answer comes first. A refund the provider held for review
(Paddle's ``pending_approval``: the outbox's answer reversed nothing) is reversed when
its approval arrives, and recorded on its call (``RefundDecided``), so a second report
of the approval changes nothing; ``refund.failed`` (a rejected refund) records the
rejection and leaves the transaction as it was.

A refund made in the provider's dashboard (no refund call of Tally's) reverses the
transaction the event names: a checkout's (``tally_transaction``), or an invoice
charge's (``tally_charge_call``, what Stripe's ``charge.refunded`` of a charge carries),
by the provider's running total less what was reversed already and what credit notes
gave back of that payment (their entries moved that money). An invoice charge's event
without a running total reverses nothing: it cannot tell a dashboard refund from the
report of a credit note's refund.

A reversal by a running total settles the refund calls of Tally's that the total counts
(``own_refunds``, which the adapter read from the provider's list of the payment's
refunds): their money moved with it, so their answers, recorded later, move none.

Paddle's adjustments carry no Tally references but the refund call's id (in the reason),
so the transaction a refund reverses is the one its call names, and only if the
provider's payment it refunds is the one the call asked to refund. A Paddle dashboard
refund names no call: the adapter gives it the refunded transaction's references and
Paddle's running total (``adapters/providers/paddle_refund_refs.py``), and it is then a
dashboard refund like Stripe's.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from commands import ledger
from commands import messages as m
from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from commands.webhook_lookups import Step, named
from domain.invoices import Invoice
from domain.provider_call_params import ChargeParams, RefundParams
from domain.provider_calls import ProviderCall
from domain.transactions import COMPLETED, REVERSED, Transaction
from domain.webhooks import NotYetApplicable, WebhookEvent


def refunded(uow: UnitOfWork, ctx: Context, event: WebhookEvent) -> list[Step]:
    call: ProviderCall | None = named(uow, ctx, ProviderCall, event, "refund_call")
    if call is not None and not (call.pending or call.awaits_approval):
        return []  # Tally asked for this refund and its outcome was applied already
    if call is not None and not _same_payment(call, event):
        return []
    txn: Transaction | None = named(uow, ctx, Transaction, event, "transaction")
    txn = txn or _refunded_transaction(uow, ctx, call)
    if txn is None and call is None:
        txn = _charged_transaction(uow, ctx, event)
        if txn is not None and event.data.get("refunded_total_minor") is None:
            # Without the provider's running total a credit note's refund of this
            # charge (already moved by the note) would look like one more refund.
            return []
    if txn is None:
        # A credit note's refund names no transaction (its entry moved the money when
        # the note was issued): only the review's outcome is recorded.
        if call is not None and call.awaits_approval:
            return [lambda: _decided(call, event, approved=True)]
        return []
    if txn.state not in (COMPLETED, REVERSED):
        raise NotYetApplicable(f"transaction {txn.id} is {txn.state}, not yet paid", id=str(txn.id))
    total = event.data.get("refunded_total_minor")
    amount = (
        int(total) - txn.reversed_amount - _credited(uow, ctx, event, txn)
        if total is not None
        else event.data.get("amount_minor")
    )
    amount = min(int(amount or 0), txn.reversible_amount)
    if amount <= 0:
        return []

    def reverse() -> dict[str, Any]:
        reason = f"refunded by {event.provider}"
        ledger.reverse_transaction(
            uow,
            m.ReverseTransaction(transaction_id=txn.id, amount=amount, reason=reason),
            ctx,
            reported=True,
        )
        if call is not None and call.pending:
            call.succeed({"refund_ref": event.object_ref, "via": "webhook"}, ctx.now)
        elif call is not None:
            _decided(call, event, approved=True)
        if total is not None:
            _settle_counted(uow, ctx, event, txn, call)
        return {"action": "transaction_reversed", "transaction_id": str(txn.id), "amount": amount}

    return [reverse]


def _settle_counted(
    uow: UnitOfWork, ctx: Context, event: WebhookEvent, txn: Transaction, named: ProviderCall | None
) -> None:
    """Settle the unsettled refund calls of ``txn`` that the provider's running total
    counts (``own_refunds``): the reversal by that total moved their money, so their
    answers, recorded later, must move none (they would reverse the refund twice)."""
    counted = event.data.get("own_refunds")
    for call_id, refund_ref in counted.items() if isinstance(counted, dict) else []:
        try:
            found: ProviderCall | None = uow.find(ProviderCall, UUID(str(call_id)))
        except ValueError:
            continue  # not an id Tally made: the metadata was edited
        params = found.request_params if found is not None else None
        if (
            found is None
            or (named is not None and found.id == named.id)
            or found.project_id != ctx.project_id
            or not isinstance(params, RefundParams)
            or params.transaction_id != str(txn.id)
        ):
            continue
        if found.pending:
            found.succeed({"refund_ref": str(refund_ref), "via": "webhook"}, ctx.now)
        elif found.awaits_approval:
            found.decide_refund(approved=True, refund_ref=str(refund_ref))


def refund_failed(uow: UnitOfWork, ctx: Context, event: WebhookEvent) -> list[Step]:
    """A refund the provider refused after review: its call records it, money stays."""
    call: ProviderCall | None = named(uow, ctx, ProviderCall, event, "refund_call")
    if call is None or not (call.pending or call.awaits_approval):
        return []
    if not _same_payment(call, event):
        return []

    def reject() -> dict[str, Any]:
        if call.pending:
            call.fail("refund_rejected", f"{event.provider} rejected refund {event.object_ref}")
        else:
            _decided(call, event, approved=False)
        return {"action": "refund_rejected", "provider_call_id": str(call.id)}

    return [reject]


def _decided(call: ProviderCall, event: WebhookEvent, *, approved: bool) -> dict[str, Any]:
    call.decide_refund(approved=approved, refund_ref=event.object_ref)
    outcome = "refund_approved" if approved else "refund_rejected"
    return {"action": outcome, "provider_call_id": str(call.id)}


def _same_payment(call: ProviderCall, event: WebhookEvent) -> bool:
    """Whether the event is about the payment ``call`` asked to refund: an event that
    names the call but refunds another payment is not believed."""
    params = call.request_params
    reported = str(event.data.get("payment_ref") or "")
    return not (isinstance(params, RefundParams) and reported and reported != params.payment_ref)


def _refunded_transaction(
    uow: UnitOfWork, ctx: Context, call: ProviderCall | None
) -> Transaction | None:
    """The transaction ``call`` refunds (None for a credit note's refund)."""
    params = call.request_params if call is not None else None
    if not isinstance(params, RefundParams) or not params.transaction_id:
        return None
    found: Transaction | None = uow.find(Transaction, UUID(params.transaction_id))
    return found if found is not None and found.project_id == ctx.project_id else None


def _charged_transaction(uow: UnitOfWork, ctx: Context, event: WebhookEvent) -> Transaction | None:
    """The transaction of the invoice charge the event names (``tally_charge_call``): a
    refund made in the provider's dashboard carries the charge's references only."""
    charge: ProviderCall | None = named(uow, ctx, ProviderCall, event, "charge_call")
    params = charge.request_params if charge is not None else None
    if not isinstance(params, ChargeParams) or not params.transaction_id:
        return None
    found: Transaction | None = uow.find(Transaction, UUID(params.transaction_id))
    return found if found is not None and found.project_id == ctx.project_id else None


def _credited(uow: UnitOfWork, ctx: Context, event: WebhookEvent, txn: Transaction) -> int:
    """What credit notes gave back of the invoice payment ``txn`` made: part of the
    provider's running total, but moved by the notes' own entries, not by a reversal."""
    invoice: Invoice | None = named(uow, ctx, Invoice, event, "invoice")
    if invoice is None:
        return 0
    return sum(
        int(p.get("refunded") or 0)
        for p in invoice.payments
        if p.get("transaction_id") == str(txn.id)
    )
