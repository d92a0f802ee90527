"""A subscription's usage thresholds (issue 13, progressive billing;
``domain.progressive_billing``)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field, StrictInt

from api.auth import CallerDep, TallyDep
from api.routes.common import IdempotencyKey, execute, respond, write_responses
from api.schemas.common import Request, Response, request_config
from commands.progressive_billing import SetUsageThresholds
from domain.limits import MAX_AMOUNT_MINOR, MAX_USAGE_THRESHOLDS

router = APIRouter(tags=["subscriptions", "usage"])


class UsageThresholdsRequest(Request):
    model_config = request_config([{"thresholds": [10000, 50000]}])
    thresholds: list[Annotated[StrictInt, Field(ge=1, le=MAX_AMOUNT_MINOR)]] = Field(
        max_length=MAX_USAGE_THRESHOLDS,
        description="Increasing amounts in minor units of the subscription's currency; "
        "empty: progressive billing off",
    )


class UsageThresholds(Response):
    subscription_id: UUID
    thresholds: list[int]


@router.post(
    "/v1/subscriptions/{subscription_id}/usage_thresholds",
    response_model=UsageThresholds,
    summary="Set a subscription's usage thresholds (progressive billing)",
    description="When the usage charges of the subscription's current period (its usage "
    "rated as the renewal would rate it) reach a threshold not reached yet in the period, "
    "an invoice of usage lines alone bills the usage so far less what earlier such "
    "invoices of the period billed; the renewal then bills only the rest (docs/usage.md, "
    f"progressive billing). At most {MAX_USAGE_THRESHOLDS}, strictly increasing (else 422 "
    "`invalid_combination`).",
    responses=write_responses(200, "not_found", "invalid_combination"),
)
def set_usage_thresholds(
    subscription_id: UUID,
    body: UsageThresholdsRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    command = SetUsageThresholds(subscription_id=subscription_id, thresholds=body.thresholds)
    return respond(execute(tally, caller, command, key), UsageThresholds)
