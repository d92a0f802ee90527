"""Request and response schemas of provider-run subscriptions (docs/subscriptions.md)."""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, with_config
from typing_extensions import TypedDict

from api.schemas.common import Request, Response, request_config
from api.schemas.nulls import ShownNull
from domain.limits import MAX_PROVIDER_PRICE_ID_CHARS
from domain.subscription_runners import PRICE_ID_FORMATS

EXAMPLE_PRODUCT = "5f0c7a52-3d5c-5d7e-9a43-2b1f7c9d8e01"


def _anchored(provider: str) -> str:
    """A provider's price id format as the domain checks it (``PRICE_ID_FORMATS``), whole:
    the schema states it, so a request the schema allows is never refused for it."""
    return f"^{PRICE_ID_FORMATS[provider].pattern}$"


StripePriceId = Annotated[
    str, StringConstraints(max_length=MAX_PROVIDER_PRICE_ID_CHARS, pattern=_anchored("stripe"))
]
PaddlePriceId = Annotated[
    str, StringConstraints(max_length=MAX_PROVIDER_PRICE_ID_CHARS, pattern=_anchored("paddle"))
]


@with_config(ConfigDict(extra="forbid"))
class ProviderPriceIds(TypedDict):
    """One price id per provider that runs subscriptions, each in its own format."""

    stripe: NotRequired[StripePriceId]
    paddle: NotRequired[PaddlePriceId]


class SubscriptionRunnerRequest(Request):
    model_config = request_config(
        [{"run_by": "provider"}, {"run_by": "tally", "product_id": EXAMPLE_PRODUCT}]
    )
    run_by: Literal["tally", "provider"] = Field(
        description="`tally` (the default): Tally renews, bills and charges. `provider`: "
        "the project's payment provider (stripe or paddle) runs new subscriptions and "
        "Tally mirrors them"
    )
    product_id: UUID | None = Field(
        default=None,
        description="Only for this plan (product), whatever the project's choice; a "
        "subscription's plans must agree on who runs it",
    )


class SubscriptionRunner(BaseModel):
    object: Literal["subscription_runner"] = "subscription_runner"
    run_by: Literal["tally", "provider"]
    provider: ShownNull[str] = Field(
        default=None, description="The provider that runs them, or null (Tally does)"
    )
    plans: dict[str, str] = Field(
        default_factory=dict,
        description="Per plan (product id): `tally` or the provider that runs its new "
        "subscriptions instead",
    )


class SubscriptionRunnerResult(Response):
    subscription_runner: SubscriptionRunner


class ProviderPriceIdsRequest(Request):
    model_config = request_config([{"provider_price_ids": {"stripe": "price_1PgafmB7WZ01"}}])
    provider_price_ids: ProviderPriceIds = Field(
        description="The provider's price id for each provider (Stripe `price_...`, Paddle "
        "`pri_...`); replaces the whole mapping, so `{}` removes it"
    )
