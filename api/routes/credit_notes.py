"""Credit notes: issue one against a finalized invoice, and list them.

A credit note lowers what an invoice is worth after it was finalized: it reverses
revenue and tax in proportion, and sends the amount to what is owed (``none``), the
customer's credit balance, or back to the payment it refunds. It can never exceed what
was paid (or, with ``none``, what is still owed): 422 ``credit_exceeds_paid``.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.auth import CallerDep, TallyDep
from api.calls import execute_and_call
from api.routes.common import (
    IdempotencyKey,
    Limit,
    Reader,
    StartingAfter,
    fetch_page,
    read_problems,
    respond,
    write_responses,
)
from api.routes.invoices import ONE
from api.schemas import credit_notes as s
from api.schemas.common import Page
from commands import messages as m

router = APIRouter(tags=["credit notes"])


@router.post(
    ONE + "/credit_notes",
    status_code=201,
    response_model=s.CreditNoteResult,
    summary="Issue a credit note against an invoice",
    description="Only an open, paid or uncollectible invoice. The amount defaults to all "
    "that was paid (with `refund_to: none`, all that is still owed). A provider payment "
    "the provider reported without a payment id cannot be refunded to it: "
    "`refund_to: original_payment` answers 409 `not_refundable`. A note of a credit "
    "purchase's invoice takes its amount back from the credits bought, at most what they "
    "still hold (409 `credits_already_spent`), and only once they were granted (409 "
    "`invalid_transition`: void an unpaid one).",
    responses=write_responses(
        201,
        "not_found",
        "invalid_transition",
        "credit_exceeds_paid",
        "invalid_amount",
        "not_refundable",
        "credits_already_spent",
    ),
)
def create_credit_note(
    invoice_id: UUID,
    body: s.CreateCreditNoteRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = m.CreateCreditNote(invoice_id=invoice_id, **body.model_dump())
    return respond(execute_and_call(tally, caller, command, key), s.CreditNoteResult)


@router.get(
    "/v1/credit_notes",
    response_model=Page[s.CreditNote],
    summary="List credit notes",
    description="Oldest first; page with the last credit note's id.",
    responses=read_problems(),
)
def list_credit_notes(
    tally: TallyDep,
    caller: Reader,
    invoice_id: Annotated[UUID | None, Query(description="Only this invoice's")] = None,
    customer_id: Annotated[UUID | None, Query(description="Only this customer's")] = None,
    limit: Limit = 20,
    starting_after: StartingAfter = None,
) -> Page[s.CreditNote]:
    from projections.invoices import list_credit_notes as query

    return fetch_page(
        s.CreditNote,
        query,
        tally,
        caller,
        invoice_id=invoice_id,
        customer_id=customer_id,
        limit=limit,
        starting_after=starting_after,
    )
