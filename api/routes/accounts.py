"""Accounts (customer wallets): open, move money, freeze, close, and read them back."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.as_of import AsOf, aggregate_as_of
from api.auth import TallyDep, WriterDep
from api.routes.common import (
    IdempotencyKey,
    Limit,
    Reader,
    StartingAfterId,
    as_of_problems,
    created_object,
    fetch_one,
    fetch_page,
    one_or_404,
    read_problems,
    respond,
    run,
    write_responses,
)
from api.schemas import accounts as s
from api.schemas.common import Page
from api.schemas.transactions import MovementResult
from commands import messages as m
from domain.accounts import Account
from domain.limits import TEXT_PATTERN
from projections.point_in_time import account_row

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])

MOVE_REFUSALS = ("not_found", "currency_mismatch", "account_frozen", "account_closed")


# The commands of this module's wallet writes, built by one function each, which the route
# and the CLI (``tally accounts``, ``tally holds``) both call: the CLI cannot call these
# ``async`` routes, whose parameters are the server's dependencies, and must not build a
# command of its own that could drift from the route's.
def opening(body: s.OpenAccountRequest) -> m.OpenAccount:
    return m.OpenAccount(**body.model_dump())


def depositing(account_id: UUID, body: s.DepositRequest) -> m.Deposit:
    return m.Deposit(account_id=account_id, **body.model_dump())


def withdrawing(account_id: UUID, body: s.WithdrawalRequest) -> m.Withdraw:
    return m.Withdraw(account_id=account_id, **body.model_dump())


@router.post(
    "",
    status_code=201,
    response_model=s.Account,
    summary="Open an account",
    description="One account per (owner_ref, currency) in a project; a second open of "
    "the same pair answers 409 already_exists.",
    responses=write_responses(201, "already_exists", "unknown_currency"),
)
async def open_account(
    body: s.OpenAccountRequest, writer: WriterDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = opening(body)
    outcome = await run(writer, command, key)
    return respond(created_object(outcome, "account"), s.Account)


@router.get(
    "",
    response_model=Page[s.Account],
    summary="List accounts",
    responses=read_problems(),
)
def list_accounts(
    tally: TallyDep,
    caller: Reader,
    limit: Limit = 20,
    starting_after: StartingAfterId = None,
    owner_ref: Annotated[str | None, Query(max_length=200, pattern=TEXT_PATTERN)] = None,
) -> Page[s.Account]:
    from projections.balances import list_accounts as query

    return fetch_page(
        s.Account,
        query,
        tally,
        caller,
        limit=limit,
        starting_after=starting_after,
        owner_ref=owner_ref,
    )


@router.get(
    "/{account_id}",
    response_model=s.Account,
    summary="Get an account",
    description="With `as_of`, the account as it stood at that point of the log, rebuilt "
    "from its events (404 if it did not exist yet).",
    responses=as_of_problems("not_found"),
)
def get_account(account_id: UUID, tally: TallyDep, caller: Reader, as_of: AsOf) -> s.Account:
    from projections.balances import get_account as query

    if as_of is not None:
        account = aggregate_as_of(tally, as_of, Account, account_id, caller.project_id)
        row = None if account is None else account_row(account)
        return one_or_404(s.Account, row, "account", account_id)
    return fetch_one(s.Account, query, tally, caller, account_id, "account")


@router.post(
    "/{account_id}/deposits",
    status_code=201,
    response_model=MovementResult,
    summary="Deposit money",
    description="Money comes in from the `source` clearing account. With `pending: true` "
    "the transaction waits in `processing` for the outside payment: confirm it to credit "
    "the account, or fail it.",
    responses=write_responses(201, *MOVE_REFUSALS, "invalid_amount", "unknown_currency"),
)
async def deposit(
    account_id: UUID,
    body: s.DepositRequest,
    writer: WriterDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = depositing(account_id, body)
    return respond(await run(writer, command, key), MovementResult)


@router.post(
    "/{account_id}/withdrawals",
    status_code=201,
    response_model=MovementResult,
    summary="Withdraw money",
    responses=write_responses(201, *MOVE_REFUSALS, "insufficient_funds", "unknown_currency"),
)
async def withdraw(
    account_id: UUID,
    body: s.WithdrawalRequest,
    writer: WriterDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = withdrawing(account_id, body)
    return respond(await run(writer, command, key), MovementResult)


@router.post(
    "/{account_id}/freeze",
    response_model=s.AccountResult,
    summary="Freeze an account",
    description="A frozen account neither sends nor receives money until unfrozen; "
    "confirmed pending deposits still land.",
    responses=write_responses(200, "not_found", "account_frozen", "account_closed"),
)
async def freeze(
    account_id: UUID,
    writer: WriterDep,
    body: s.FreezeRequest | None = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    reason = body.reason if body is not None else ""
    command = m.FreezeAccount(account_id=account_id, reason=reason)
    return respond(await run(writer, command, key), s.AccountResult)


@router.post(
    "/{account_id}/low_balance_threshold",
    response_model=s.AccountResult,
    summary="Set or clear the low-balance threshold",
    description="`billing.wallet.balance_low` is emitted once when the available balance "
    "(ledger minus holds) falls below the threshold, and again only after it was back at "
    "or above it. Setting a threshold above the available balance fires it; null clears "
    "the threshold (and re-arms it). Setting the threshold it already has changes nothing.",
    responses=write_responses(200, "not_found", "account_closed", "invalid_amount"),
)
async def set_low_balance_threshold(
    account_id: UUID,
    body: s.LowBalanceThresholdRequest,
    writer: WriterDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = m.SetLowBalanceThreshold(account_id=account_id, **body.model_dump())
    return respond(await run(writer, command, key), s.AccountResult)


@router.post(
    "/{account_id}/unfreeze",
    response_model=s.AccountResult,
    summary="Unfreeze an account",
    responses=write_responses(200, "not_found", "account_frozen", body=False),
)
async def unfreeze(account_id: UUID, writer: WriterDep, key: IdempotencyKey = None) -> JSONResponse:
    command = m.UnfreezeAccount(account_id=account_id)
    return respond(await run(writer, command, key), s.AccountResult)


@router.post(
    "/{account_id}/close",
    response_model=s.AccountResult,
    summary="Close an account",
    description="Only an account with zero balance and no active holds can be closed.",
    responses=write_responses(200, "not_found", "account_closed", "account_not_empty", body=False),
)
async def close(account_id: UUID, writer: WriterDep, key: IdempotencyKey = None) -> JSONResponse:
    command = m.CloseAccount(account_id=account_id)
    return respond(await run(writer, command, key), s.AccountResult)
