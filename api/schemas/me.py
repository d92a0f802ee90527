"""Request and response bodies of /v1/me (issue 14). A customer never names itself: each
body is the project-key route's body without ``customer_id`` (the route adds the
principal's), and without what only the project may choose (a checkout's trial days, a
plan change's proration mode)."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from api import money_rules as rules
from api.schemas.catalog import Interval
from api.schemas.common import Body, Result, examples
from api.schemas.subscriptions import ItemRequest
from commands.limits_types import PlanCode
from commands.provider_messages import Url
from domain.limits import MAX_SUBSCRIPTION_ITEMS

_RETURN = {"success_url": "https://example.com/welcome", "cancel_url": "https://example.com/plans"}
PRICE_ID = "5f6e7d8c-9b0a-4c1d-8e2f-3a4b5c6d7e8f"


class MeCheckoutRequest(Body):
    model_config = examples(
        {"plan": "PRO", "interval": "month", **_RETURN},
        {"items": [{"lookup_key": "pro_monthly_eur"}], **_RETURN},
    )
    items: list[ItemRequest] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_SUBSCRIPTION_ITEMS,
        description="The prices, by id or lookup key; or else `plan`. " + rules.SUBSCRIPTION_ITEMS,
    )
    plan: PlanCode | None = Field(default=None, description="Instead of items: a plan code")
    interval: Interval | None = Field(default=None, description="With plan: this interval only")
    success_url: Url
    cancel_url: Url


class MeChangeRequest(Body):
    model_config = examples(
        {"items": [{"lookup_key": "business_monthly_eur"}]},
        {"items": [{"price_id": PRICE_ID, "quantity": 8}]},
    )
    items: list[ItemRequest] = Field(
        min_length=1,
        max_length=MAX_SUBSCRIPTION_ITEMS,
        description="The new items (prorated: a credit for the unused time of the old "
        "items, a charge for the rest of the period on the new). " + rules.SUBSCRIPTION_ITEMS,
    )


class PlanChangePreview(Result):
    model_config = examples(
        {
            "object": "plan_change_preview",
            "subscription_id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
            "currency": "EUR",
            "items": [{"price_id": PRICE_ID, "quantity": 1, "amount": 4900}],
            "proration": "prorate",
            "proration_lines": [
                {"description": "Unused time", "amount": -950, "at": "2030-01-15T00:00:00+00:00"},
                {
                    "description": "Remaining time",
                    "amount": 2450,
                    "at": "2030-01-15T00:00:00+00:00",
                },
            ],
            "proration_total": 1500,
            "period_amount": 4900,
            "at": "2030-01-15T00:00:00+00:00",
        },
        extra="allow",
    )
    object: Literal["plan_change_preview"] = "plan_change_preview"
    subscription_id: UUID
    currency: str
    items: list[dict[str, Any]] = Field(description="The items after the change, priced")
    proration: str
    proration_lines: list[dict[str, Any]] = Field(
        description="What the change adds to the next invoice (minor units; credits negative)"
    )
    proration_total: int = Field(description="Their sum, in minor units")
    period_amount: int = Field(description="The new items' amount per period")
    at: str = Field(description="The instant the proration is computed for")


class MeCancelRequest(Body):
    model_config = examples({"at_period_end": True}, {})
    at_period_end: bool = Field(
        default=True,
        description="True (default): keep it until the period ends (can be undone); false: now",
    )


class MePortalRequest(Body):
    model_config = examples({"return_url": "https://example.com/account"})
    return_url: Url
