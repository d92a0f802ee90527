"""Paying an invoice: pay (wallet, provider, out of band) and run a due payment retry now.

A provider charge the command asks for is made right after the command commits
(``api.calls.call_now``), so the answer says how it went; the answer is then read from
the read models (``projections.payment_answers.payment_state``) once they hold the
charge's outcome. The handlers are in ``commands/invoice_payments.py``.
"""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import Caller, CallerDep, TallyDep
from api.calls import call_now
from api.routes.checkout import provider_name
from api.routes.common import (
    IdempotencyKey,
    caught_up,
    execute,
    found_or_404,
    respond,
    write_responses,
)
from api.schemas import invoice_payments as p
from api.tally import Tally
from commands import messages as m
from commands.bus import Outcome

router = APIRouter(tags=["invoices"])

ONE = "/v1/invoices/{invoice_id}"


@router.post(
    ONE + "/retry_payment",
    name="invoice_retry_payment",
    response_model=p.PaymentResult,
    summary="Run a due payment retry now",
    description="`payment_attempt` is null when no retry is due.",
    responses=write_responses(
        200,
        "not_found",
        "invalid_transition",
        "card_declined",
        "provider_unavailable",
        "read_model_behind",
        body=False,
    ),
)
def retry_invoice_payment(
    invoice_id: UUID, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.RetryInvoicePayment(invoice_id=invoice_id)
    return charged(tally, caller, invoice_id, execute(tally, caller, command, key))


@router.post(
    ONE + "/pay",
    response_model=p.PaymentResult,
    summary="Pay an open (or uncollectible) invoice",
    description="A provider charge is made by the outbox right after the command "
    "commits, to the customer's default payment method, and the answer says how it went. "
    "A declined one answers 200 with `payment_attempt.succeeded` false and the invoice in "
    "dunning; while the provider is unavailable `payment_attempt.status` is `pending` and "
    "the outbox retries it. Paying a void or paid invoice answers 409 "
    "`invalid_transition`; more than remains (or when nothing does), 422 "
    "`payment_exceeds_remaining`; `out_of_band` without its `reference`, 422 "
    "`invalid_combination`.",
    responses=write_responses(
        200,
        "not_found",
        "invalid_transition",
        "payment_exceeds_remaining",
        "insufficient_funds",
        "currency_mismatch",
        "provider_unavailable",
        "invalid_combination",
        "read_model_behind",
    ),
)
def pay_invoice(
    invoice_id: UUID,
    body: p.PayInvoiceRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = m.PayInvoice(invoice_id=invoice_id, **body.model_dump())
    if command.method == "provider" and command.provider is None:
        command = command.model_copy(update={"provider": provider_name(tally, caller)})
    return charged(tally, caller, invoice_id, execute(tally, caller, command, key))


def charged(tally: Tally, caller: Caller, invoice_id: UUID, outcome: Outcome) -> JSONResponse:
    """Answer a payment; a provider charge the command asked for is made first, now that
    the command has committed, so the answer says how it went. A provider that is down
    leaves it pending (``payment_attempt.status``): the outbox retries it. The answer is
    read from the read models once they hold the charge's outcome."""
    from projections.payment_answers import payment_state

    attempt = outcome.body.get("payment_attempt")
    call_id = (attempt or {}).get("provider_call_id")
    if not call_id or attempt is None or attempt.get("status") != "pending":
        return respond(outcome, p.PaymentResult)
    # the position of the charge's outcome, newer than the command's
    moved, _ = call_now(tally, caller.project_id, outcome, [call_id])
    caught_up(tally, moved.position)
    state = payment_state(tally.views, tally.schema, caller.project_id, invoice_id, attempt)
    answered = replace(outcome, body=found_or_404(state, "invoice", invoice_id))
    return respond(answered, p.PaymentResult, headers_of=moved)
