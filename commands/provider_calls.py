"""The outbox's write side: what a provider's answer to a call changes.

The outbox worker (``adapters/outbox.py``) makes each pending ``ProviderCall`` after the
command that requested it committed, then reports the answer with
``RecordProviderCallOutcome``. Its handler applies what the answer means (a charge that
succeeded confirms its pending top-up, a declined one fails it, a refund reverses its
transaction; one the provider holds for review waits for its decision) and settles the
call in the same transaction. A call that is no longer pending (the answer arrived
twice, or a webhook reported it first) changes nothing.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from commands import ledger, provider_run_mirror
from commands import messages as m
from commands import provider_messages as pm
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.credit_top_ups import top_up_declined
from commands.invoice_charges import settle_charge
from commands.webhook_effects import complete_transaction
from domain.provider_call_params import (
    CancelCheckoutParams,
    ChargeParams,
    CheckoutParams,
    RefundParams,
)
from domain.provider_calls import AWAITING_APPROVAL, ProviderCall
from domain.transactions import COMPLETED, PROCESSING, REVERSED, Transaction


def record_outcome(uow: UnitOfWork, cmd: pm.RecordProviderCallOutcome, ctx: Context) -> Result:
    assert ctx.now is not None
    call = uow.get(ProviderCall, cmd.call_id, ctx.project_id)
    body: dict[str, Any] = {}
    if call.pending:
        if cmd.outcome == "retry":
            if not call.retry_later(cmd.error_code, cmd.error, ctx.now):
                body = _after_failure(uow, ctx, call, call.error_code, call.last_error)
        elif cmd.outcome == "succeeded":
            body = _after_success(uow, ctx, call, cmd.result)
            if call.pending:  # what the answer changes may fail the call instead
                call.succeed(cmd.result, ctx.now)
        else:
            body = _after_failure(uow, ctx, call, cmd.error_code, cmd.error)
            call.fail(cmd.error_code, cmd.error)
    return Result.changed({"provider_call": call.summary(), **body})


# The error code of a call whose answer could not be recorded (its last_error says why).
OUTCOME_NOT_RECORDED = "outcome_not_recorded"


def back_off(uow: UnitOfWork, cmd: pm.BackOffProviderCall, ctx: Context) -> Result:
    """The answer to a pending call could not be recorded: what it changes was refused
    (a refund of money the wallet has spent since, a grant past a limit). The call is
    tried again later, with the usual backoff, and after MAX_ATTEMPTS it fails; nothing
    else changes, since what the provider did is not known to have failed. Without this
    the refusal escaped the outbox's pass, whose every later call (of every tenant)
    then waited behind this one."""
    assert ctx.now is not None
    call = uow.get(ProviderCall, cmd.call_id, ctx.project_id)
    if call.pending:
        detail = f"{cmd.error_code}: {cmd.error}"[:500]
        call.retry_later(OUTCOME_NOT_RECORDED, detail, ctx.now)
    return Result.changed({"provider_call": call.summary()})


def _charges_invoice(call: ProviderCall) -> bool:
    params = call.request_params
    return isinstance(params, ChargeParams) and bool(params.invoice_id)


def _subject_transaction(uow: UnitOfWork, ctx: Context, call: ProviderCall) -> Transaction | None:
    """The ledger Transaction a checkout, charge or refund pays or reverses, if any."""
    params = call.request_params
    subject = (
        params.transaction_id
        if isinstance(params, CheckoutParams | ChargeParams | RefundParams | CancelCheckoutParams)
        else None
    )
    return uow.get(Transaction, UUID(subject), ctx.project_id) if subject else None


def _after_success(
    uow: UnitOfWork, ctx: Context, call: ProviderCall, result: dict[str, Any]
) -> dict[str, Any]:
    if call.operation in provider_run_mirror.OPERATIONS:
        return provider_run_mirror.after_call(uow, ctx, call, result)
    if _charges_invoice(call):
        if result.get("status") != "succeeded":
            return {}  # an answer that is not final (processing): the webhook settles it
        payment_ref = str(result.get("payment_ref") or "")
        return {"invoice": settle_charge(uow, ctx, call, payment_ref=payment_ref, failure=None)}
    txn = _subject_transaction(uow, ctx, call)
    if txn is None:
        return {}
    params = call.request_params
    if isinstance(params, ChargeParams) and result.get("status") == "succeeded":
        if txn.state == PROCESSING:
            complete_transaction(uow, ctx, txn)
    elif isinstance(params, CancelCheckoutParams):
        # The provider cancelled a checkout nobody finished (commands/checkout_expiry.py):
        # nothing can be paid on it any more.
        if txn.state == PROCESSING:
            failed = m.FailTransaction(transaction_id=txn.id, reason="checkout_expired")
            ledger.fail_transaction(uow, failed, ctx)
    elif isinstance(params, RefundParams):
        if result.get("status") == AWAITING_APPROVAL:
            # The provider holds the refund for review (Paddle): nothing moved yet. Its
            # decision arrives by webhook (commands/webhook_refunds.py).
            return {"transaction": txn.summary()}
        amount = min(params.amount_minor, txn.reversible_amount)
        if txn.state in (COMPLETED, REVERSED) and amount > 0:
            reason = f"refunded by {call.provider}"
            ledger.reverse_transaction(
                uow,
                m.ReverseTransaction(transaction_id=txn.id, amount=amount, reason=reason),
                ctx,
                reported=True,
            )
    return {"transaction": txn.summary()}


def _after_failure(
    uow: UnitOfWork, ctx: Context, call: ProviderCall, code: str, detail: str
) -> dict[str, Any]:
    """A charge or checkout that cannot happen fails its pending payment (an invoice's
    charge goes to dunning, under the failure's code: ``card_declined``...); a failed
    refund leaves the transaction as it is (the call shows why)."""
    if call.operation in provider_run_mirror.OPERATIONS:
        return provider_run_mirror.after_call(uow, ctx, call, None)
    if _charges_invoice(call):
        failure = code or "provider_error"
        return {"invoice": settle_charge(uow, ctx, call, payment_ref="", failure=failure)}
    reason = f"{code}: {detail}"
    txn = _subject_transaction(uow, ctx, call)
    # A refund or a checkout's cancellation that failed leaves the payment as it was
    # (a checkout the provider would not cancel was paid: its payment settles it).
    if txn is None or call.operation in ("refund", "cancel_checkout"):
        return {}
    if txn.state == PROCESSING:
        ledger.fail_transaction(
            uow, m.FailTransaction(transaction_id=txn.id, reason=reason[:500]), ctx
        )
        top_up_declined(uow, ctx, txn, code)  # an automatic credit top-up's (issue 13)
    return {"transaction": txn.summary()}


HANDLERS: dict[type[Any], Handler] = {
    pm.RecordProviderCallOutcome: record_outcome,
    pm.BackOffProviderCall: back_off,
}
