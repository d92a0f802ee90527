"""Provider-run subscriptions: who runs a project's subscriptions, and each price's
provider price (docs/subscriptions.md, "Who runs the subscription")."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import CallerDep, TallyDep
from api.routes.checkout import provider_name
from api.routes.common import (
    IdempotencyKey,
    Reader,
    execute,
    read_problems,
    respond,
    write_responses,
)
from api.schemas.catalog import PriceResult
from api.schemas.provider_subscriptions import (
    ProviderPriceIdsRequest,
    SubscriptionRunnerRequest,
    SubscriptionRunnerResult,
)
from commands.provider_subscriptions import ChooseSubscriptionRunner, MapPriceToProviders

router = APIRouter(tags=["subscriptions"])


@router.get(
    "/v1/subscription_runner",
    response_model=SubscriptionRunnerResult,
    summary="Who runs the project's subscriptions",
    description="`tally` unless the project chose `provider` (with the provider then).",
    responses=read_problems(),
)
def get_runner(tally: TallyDep, caller: Reader) -> SubscriptionRunnerResult:
    from projections.payments import get_subscription_runner

    row = get_subscription_runner(tally.views, tally.schema, caller.project_id)
    chosen = row or {"run_by": "tally", "provider": None, "plans": {}}
    return SubscriptionRunnerResult.model_validate({"subscription_runner": chosen})


@router.post(
    "/v1/subscription_runner",
    response_model=SubscriptionRunnerResult,
    summary="Choose who runs the project's subscriptions",
    description="`tally` (the default) or `provider`: then new subscriptions are created "
    "at the project's payment provider, their plan changes and cancels are asked of it, "
    "and its webhooks bring every change and paid invoice back. Only Stripe and Paddle "
    "run subscriptions: YooKassa (no subscription API) and the stub answer 422 "
    "`provider_unsupported`. With `product_id`, for that plan only (404 `not_found` for "
    "another project's). Subscriptions created before keep their runner.",
    responses=write_responses(200, "provider_unsupported", "not_found"),
)
def choose_runner(
    body: SubscriptionRunnerRequest, tally: TallyDep, caller: CallerDep, key: IdempotencyKey = None
) -> JSONResponse:
    command = ChooseSubscriptionRunner(
        run_by=body.run_by, provider=provider_name(tally, caller), product_id=body.product_id
    )
    return respond(execute(tally, caller, command, key), SubscriptionRunnerResult)


@router.post(
    "/v1/prices/{price_id}/provider_price_ids",
    response_model=PriceResult,
    summary="Map a price to the providers' prices",
    description="The provider's own price for this price, used when the provider runs "
    "the subscription (Stripe `price_...`, Paddle `pri_...`; another form answers 422 "
    "`validation_error`). Replaces the whole mapping.",
    responses=write_responses(200, "not_found", "validation_error"),
)
def map_price(
    price_id: UUID,
    body: ProviderPriceIdsRequest,
    tally: TallyDep,
    caller: CallerDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    ids = {provider: str(ref) for provider, ref in body.provider_price_ids.items()}
    command = MapPriceToProviders(price_id=price_id, provider_price_ids=ids)
    return respond(execute(tally, caller, command, key), PriceResult)
