"""Transfers between two accounts of the same project and currency."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import WriterDep
from api.routes.common import IdempotencyKey, respond, run, write_responses
from api.schemas import transfers as s
from commands import messages as m

router = APIRouter(prefix="/v1/transfers", tags=["transfers"])


@router.post(
    "",
    status_code=201,
    response_model=s.TransferResult,
    summary="Transfer between accounts",
    description="The two accounts differ (a transfer from an account to itself answers "
    "422 `invalid_combination`) and hold the transfer's currency.",
    responses=write_responses(
        201,
        "invalid_combination",
        "not_found",
        "currency_mismatch",
        "account_frozen",
        "account_closed",
        "insufficient_funds",
        "unknown_currency",
        "amount_too_large",
    ),
)
async def transfer(
    body: s.TransferRequest, writer: WriterDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = transferring(body)
    return respond(await run(writer, command, key), s.TransferResult)


def transferring(body: s.TransferRequest) -> m.Transfer:
    """The command of ``POST /v1/transfers``, which the route and ``tally accounts
    transfer`` both call (see ``api.routes.accounts``)."""
    return m.Transfer(**body.model_dump())
