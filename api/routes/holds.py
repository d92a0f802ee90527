"""Holds: reserve part of an account's balance, then capture (all or part) or void it.

An active hold past its ``expires_at`` can no longer be captured; the sweeper releases it.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.auth import TallyDep, WriterDep
from api.routes.common import (
    IdempotencyKey,
    IdPath,
    Limit,
    Reader,
    StartingAfter,
    created_object,
    fetch_page,
    read_problems,
    require_account,
    respond,
    run,
    write_responses,
)
from api.schemas import holds as s
from api.schemas.common import Page
from api.schemas.created import PlacedHold
from commands import messages as m
from domain.errors import NotFound

router = APIRouter(prefix="/v1/accounts/{account_id}/holds", tags=["holds"])

HoldId = IdPath


# The commands of this module's wallet writes, built by one function each, which the route
# and the CLI (``tally accounts``, ``tally holds``) both call: the CLI cannot call these
# ``async`` routes, whose parameters are the server's dependencies, and must not build a
# command of its own that could drift from the route's.
def placing(account_id: UUID, body: s.PlaceHoldRequest) -> m.PlaceHold:
    return m.PlaceHold(account_id=account_id, **body.model_dump())


def capturing(account_id: UUID, hold_id: str, body: s.CaptureHoldRequest | None) -> m.CaptureHold:
    amount = body.amount if body is not None else None
    return m.CaptureHold(account_id=account_id, hold_id=hold_id, amount=amount)


def voiding(account_id: UUID, hold_id: str) -> m.VoidHold:
    return m.VoidHold(account_id=account_id, hold_id=hold_id)


HoldStatus = Literal["active", "captured", "voided", "expired"]


@router.post(
    "",
    status_code=201,
    response_model=PlacedHold,
    summary="Place a hold",
    description="`expires_at` lies ahead of the project's clock (else 422 "
    "`time_not_in_future`); `destination_account_id` is another account than the held one "
    "(else 422 `invalid_combination`).",
    responses=write_responses(
        201,
        "time_not_in_future",
        "invalid_combination",
        "not_found",
        "currency_mismatch",
        "account_frozen",
        "account_closed",
        "insufficient_funds",
        "invalid_amount",
        "unknown_currency",
    ),
)
async def place_hold(
    account_id: UUID,
    body: s.PlaceHoldRequest,
    writer: WriterDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = placing(account_id, body)
    outcome = await run(writer, command, key)
    return respond(created_object(outcome, "hold", account="account"), PlacedHold)


@router.post(
    "/{hold_id}/capture",
    status_code=201,
    response_model=s.CaptureResult,
    summary="Capture a hold",
    description="Captures `amount` (default: the whole hold) and releases the rest; the "
    "capture is a new transaction to the hold's destination.",
    responses=write_responses(
        201,
        "not_found",
        "hold_expired",
        "hold_not_active",
        "capture_exceeds_hold",
        "account_frozen",
        "account_closed",
        "invalid_amount",
    ),
)
async def capture_hold(
    account_id: UUID,
    hold_id: HoldId,
    writer: WriterDep,
    body: s.CaptureHoldRequest | None = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = capturing(account_id, hold_id, body)
    return respond(await run(writer, command, key), s.CaptureResult)


@router.post(
    "/{hold_id}/void",
    response_model=s.HoldResult,
    summary="Void a hold",
    responses=write_responses(200, "not_found", "hold_not_active", body=False),
)
async def void_hold(
    account_id: UUID,
    hold_id: HoldId,
    writer: WriterDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = voiding(account_id, hold_id)
    return respond(await run(writer, command, key), s.HoldResult)


@router.get(
    "",
    response_model=Page[s.Hold],
    summary="List an account's holds",
    responses=read_problems("not_found"),
)
def list_holds(
    account_id: UUID,
    tally: TallyDep,
    caller: Reader,
    status: Annotated[HoldStatus | None, Query()] = None,
    limit: Limit = 20,
    starting_after: StartingAfter = None,
) -> Page[s.Hold]:
    from projections.holds import list_holds as query

    require_account(tally, caller, account_id)
    return fetch_page(
        s.Hold,
        query,
        tally,
        caller,
        account_id,
        status=status,
        limit=limit,
        starting_after=starting_after,
    )


@router.get(
    "/{hold_id}",
    response_model=s.Hold,
    summary="Get a hold",
    responses=read_problems("not_found"),
)
def get_hold(account_id: UUID, hold_id: HoldId, tally: TallyDep, caller: Reader) -> s.Hold:
    from projections.holds import get_hold as query

    row = query(tally.views, tally.schema, caller.project_id, account_id, hold_id)
    if row is None:
        raise NotFound(f"hold {hold_id} not found", hold_id=hold_id)
    return s.Hold.model_validate(row)
