"""Transactions: read one, confirm or fail a pending deposit, reverse (all or part)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import TallyDep, WriterDep
from api.routes.common import (
    IdempotencyKey,
    Reader,
    fetch_one,
    read_problems,
    respond,
    run,
    write_responses,
)
from api.schemas import transactions as s
from commands import messages as m

router = APIRouter(prefix="/v1/transactions", tags=["transactions"])


@router.get(
    "/{transaction_id}",
    response_model=s.Transaction,
    summary="Get a transaction",
    responses=read_problems("not_found"),
)
def get_transaction(transaction_id: UUID, tally: TallyDep, caller: Reader) -> s.Transaction:
    from projections.transactions import get_transaction as query

    return fetch_one(s.Transaction, query, tally, caller, transaction_id, "transaction")


@router.post(
    "/{transaction_id}/confirm",
    response_model=s.TransactionResult,
    summary="Confirm a pending deposit",
    description="The outside payment arrived: the transaction completes and the account is "
    "credited.",
    responses=write_responses(
        200, "not_found", "invalid_transition", "account_closed", "amount_too_large", body=False
    ),
)
async def confirm(
    transaction_id: UUID, writer: WriterDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = m.ConfirmTransaction(transaction_id=transaction_id)
    return respond(await run(writer, command, key), s.TransactionResult)


@router.post(
    "/{transaction_id}/fail",
    response_model=s.TransactionResult,
    summary="Fail a pending transaction",
    responses=write_responses(200, "not_found", "invalid_transition"),
)
async def fail(
    transaction_id: UUID,
    writer: WriterDep,
    body: s.FailRequest | None = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    reason = body.reason if body is not None else ""
    command = m.FailTransaction(transaction_id=transaction_id, reason=reason)
    return respond(await run(writer, command, key), s.TransactionResult)


@router.post(
    "/{transaction_id}/reverse",
    response_model=s.ReverseResult,
    summary="Reverse a transaction, fully or partly",
    description="Posts a new journal entry with the signs flipped. Several partial "
    "reversals may follow each other until the whole amount is reversed. A transaction "
    "that bought prepaid credits (a wallet-funded grant's withdrawal, an automatic "
    "top-up's charge) takes its amount back from them, at most what they still hold "
    "(409 `credits_already_spent`).",
    responses=write_responses(
        200,
        "not_found",
        "invalid_transition",
        "reversal_exceeds_amount",
        "insufficient_funds",
        "account_frozen",
        "account_closed",
        "invalid_amount",
        "credits_already_spent",
    ),
)
async def reverse(
    transaction_id: UUID,
    writer: WriterDep,
    body: s.ReverseRequest | None = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    amount, reason = (body.amount, body.reason) if body is not None else (None, "")
    command = m.ReverseTransaction(transaction_id=transaction_id, amount=amount, reason=reason)
    return respond(await run(writer, command, key), s.ReverseResult)
