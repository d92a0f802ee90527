"""Paid credits bought on an invoice (issue 13): ``POST /v1/credit_purchases``.

One write makes a finalized one-line invoice and remembers the purchase on the
customer's credits (``commands/credit_purchases.py``); the grant comes when the invoice
is paid, however it is paid, once; a void cancels it. docs/usage.md, "Prepaid credits".
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import CallerDep, TallyDep
from api.routes.common import IdempotencyKey, execute, respond, write_responses
from api.schemas import credit_purchases as s
from commands.credit_messages import PurchaseCredits
from domain.limits import MAX_CREDIT_GRANTS

router = APIRouter(tags=["credits"])


@router.post(
    "/v1/credit_purchases",
    status_code=201,
    response_model=s.CreditPurchase,
    summary="Buy prepaid credits on an invoice",
    description='Finalizes a one-line invoice ("Prepaid credits", `amount`, no tax, no '
    "discount) for the customer; the `paid` credits are granted when that invoice is "
    "paid (a charge, checkout, a manual or wallet payment, or at once when the "
    "customer's credit balance covers it), exactly once, and never if it is voided. "
    "The grant's terms are checked now, like a grant's: at most "
    f"{MAX_CREDIT_GRANTS} live grants per customer and currency (409 `limit_reached`). "
    "Such a grant cannot be voided. Send an `Idempotency-Key` so that a retry invoices "
    'once. docs/usage.md, "Prepaid credits".',
    responses=write_responses(
        201,
        "not_found",
        "invalid_combination",
        "currency_mismatch",
        "limit_reached",
        "invalid_amount",
        "unknown_currency",
    ),
)
def purchase_credits(
    body: s.PurchaseCreditsRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    outcome = execute(tally, caller, PurchaseCredits(**body.model_dump()), key)
    result = outcome.body
    answer = {**result["credit_purchase"], "invoice": result["invoice"]}
    return respond(replace(outcome, body=answer), s.CreditPurchase)
