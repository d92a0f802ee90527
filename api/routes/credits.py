"""Prepaid credits (issue 13): grants, direct consumption, balances and thresholds.

``POST /v1/credits/consume`` spends a customer's credits at once, all or nothing: the
customer's ``CreditBalance`` decides it on fresh state (``domain/credit_balance.py``),
so concurrent consumers never overspend; a resend with the same ``Idempotency-Key``
answers the first consumption. Refused with 402 ``insufficient_credits`` (the client's
next step is to pay: ``api/errors.py`` says why 402)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.auth import CallerDep, TallyDep, WriterDep
from api.calls import call_now, execute_and_call
from api.credit_views import balance_view, grants_page
from api.credit_views import customer_credits as credits_of
from api.routes.common import (
    IdempotencyKey,
    IdPath,
    Limit,
    Reader,
    execute,
    page,
    read_problems,
    respond,
    run,
    write_responses,
)
from api.schemas import credits as s
from api.schemas.common import Page
from commands.credit_messages import (
    ConsumeCredits,
    GrantCredits,
    SetCreditThreshold,
    VoidCreditGrant,
)
from domain.limits import MAX_CREDIT_GRANTS, MAX_ID_CHARS

router = APIRouter(tags=["credits"])


def _grant_answer(outcome: Any) -> Any:
    return replace(outcome, body=dict(outcome.body["credit_grant"]))


@router.post(
    "/v1/credit_grants",
    status_code=201,
    response_model=s.CreditGrant,
    summary="Grant prepaid credits",
    description="Credits a customer's usage and direct consumption spend: `paid` (funded "
    "from `source`) or `promotional`, with an optional expiry (what is left then is "
    "recorded as breakage in the journal), a `priority` (higher is consumed first, then "
    "the soonest expiry, then the oldest) and optionally the metered `prices` it pays "
    f"for. At most {MAX_CREDIT_GRANTS} grants per customer and currency (409 "
    '`limit_reached`). docs/usage.md, "Prepaid credits".',
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
def grant_credits(
    body: s.GrantCreditsRequest, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    outcome = execute(tally, caller, GrantCredits(**body.model_dump()), key)
    return respond(_grant_answer(outcome), s.CreditGrant)


@router.get(
    "/v1/credit_grants",
    response_model=Page[s.CreditGrant],
    summary="List a customer's credit grants",
    description="Every grant of the customer, by currency, oldest first.",
    responses=read_problems("not_found"),
)
def list_credit_grants(
    tally: TallyDep,
    caller: Reader,
    customer: Annotated[UUID, Query(description="The customer's id")],
    limit: Limit = 20,
    starting_after: Annotated[
        str | None, Query(max_length=MAX_ID_CHARS, description="The last grant id of a page")
    ] = None,
) -> Page[s.CreditGrant]:
    chosen, more = grants_page(tally, caller.project_id, customer, limit, starting_after)
    return page(s.CreditGrant, chosen, more)


@router.post(
    "/v1/credit_grants/{grant_id}/void",
    response_model=s.CreditGrant,
    summary="Void a credit grant",
    description="What the grant still holds is taken back (its postings reversed for "
    "that amount); what was consumed stays consumed. A grant is voided once (409 "
    "`invalid_transition`).",
    responses=write_responses(200, "not_found", "invalid_transition", body=False),
)
def void_credit_grant(
    grant_id: IdPath, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = VoidCreditGrant(grant_id=grant_id)
    outcome = execute_and_call(tally, caller, command, key)
    return respond(_grant_answer(outcome), s.CreditGrant)


@router.post(
    "/v1/credits/consume",
    status_code=201,
    response_model=s.CreditConsumption,
    summary="Consume prepaid credits",
    description="Spend `amount` of the customer's credits now, all of it or nothing, in "
    "the consumption order (priority, soonest expiry, oldest). Atomic and decided on the "
    "customer's current balance, so concurrent consumers never overspend; send an "
    "`Idempotency-Key` so that a retry spends once. 402 `insufficient_credits` (its "
    "`available` says what there is) when the credits cannot cover it.",
    responses=write_responses(201, "not_found", "insufficient_credits", "unknown_currency"),
)
async def consume_credits(
    body: s.ConsumeCreditsRequest, writer: WriterDep, key: IdempotencyKey = None
) -> JSONResponse:
    outcome = await run(writer, ConsumeCredits(**body.model_dump()), key)
    calls = outcome.body.get("provider_calls")
    if calls and not outcome.replayed:  # a top-up this consumption asked for
        outcome, _ = await run_in_threadpool(
            call_now, writer.tally, writer.caller.project_id, outcome, calls
        )
    result = outcome.body
    answer = {**result["consumption"], "balance": result["balance"]["balance"]}
    return respond(replace(outcome, body=answer), s.CreditConsumption)


@router.get(
    "/v1/customers/{customer_id}/credits",
    response_model=s.CustomerCredits,
    summary="A customer's prepaid credit balances",
    description="Per currency: what the customer's grants hold at the customer's clock "
    "(a grant past its expiry counts nothing, even before its breakage is recorded), the "
    "thresholds and the soonest expiry.",
    responses=read_problems("not_found"),
)
def customer_credits(customer_id: UUID, tally: TallyDep, caller: Reader) -> s.CustomerCredits:
    return s.CustomerCredits.model_validate(credits_of(tally, caller.project_id, customer_id))


@router.post(
    "/v1/customers/{customer_id}/credits/threshold",
    response_model=s.CustomerCredits,
    summary="Set a customer's credit threshold and automatic top-up",
    description="billing.credits.low fires when the balance falls below `low_threshold` "
    "(once per crossing; again after it was back at or above), billing.credits.depleted "
    "when it reaches 0. With `top_up_amount`, each low crossing also asks for one charge "
    "of the customer's saved payment method.",
    responses=write_responses(200, "not_found", "invalid_combination", "unknown_currency"),
)
def set_credit_threshold(
    customer_id: UUID,
    body: s.CreditThresholdRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = SetCreditThreshold(customer_id=customer_id, **body.model_dump())
    outcome = execute_and_call(tally, caller, command, key)
    balance = balance_view(outcome.body["balance"], None)
    body_out = {"customer_id": str(customer_id), "balances": [balance]}
    return respond(replace(outcome, body=body_out), s.CustomerCredits)
