"""Request and response models of the subscriptions routes (``api/routes/subscriptions.py``)."""

from __future__ import annotations

from typing import Annotated, Literal, get_args
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from api import money_rules as rules
from api.objects import Instant, created_field
from api.schemas.catalog import Interval
from api.schemas.common import (
    CUSTOMER_ID,
    PRICE_ID,
    SUBSCRIPTION_ID,
    ApiObject,
    Collection,
    CollectionReason,
    Request,
    Response,
    request_config,
)
from api.schemas.invoices import Invoice
from api.schemas.nulls import ShownNull
from commands.limits_types import TIMESTAMP_RULE, LookupKey, PlanCode, Timestamp
from commands.messages import Quantity
from domain.limits import MAX_SUBSCRIPTION_ITEMS, MAX_TRIAL_DAYS

Proration = Literal["prorate", "none", "period_end"]


Status = Literal[
    "incomplete",
    "incomplete_expired",
    "trialing",
    "active",
    "past_due",
    "unpaid",
    "paused",
    "canceled",
]


class ItemRequest(BaseModel):
    """A price by id or by lookup key (one of them, else 422 `invalid_combination`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    price_id: UUID | None = Field(
        default=None, description="An active recurring price in the customer's currency"
    )
    lookup_key: LookupKey | None = Field(
        default=None,
        description="Instead of price_id: the lookup key of an active price (unknown: 404 "
        "`not_found`; used by two products: 422 `ambiguous_price`)",
    )
    quantity: Quantity = Field(default=1, description="Seats or units: " + rules.QUANTITY)


class StartingPrices(BaseModel):
    """Whose subscription and which prices it starts with: items, or a plan (with an
    interval). The subscription's create and its checkout share these fields, so the two
    cannot come to describe them differently."""

    customer_id: UUID
    items: list[ItemRequest] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_SUBSCRIPTION_ITEMS,
        description="The prices, by id or lookup key; or else `plan`. " + rules.SUBSCRIPTION_ITEMS,
    )
    plan: PlanCode | None = Field(
        default=None,
        description="Instead of items: a plan (product) code; one of each of its active "
        "recurring prices in the customer's currency",
    )
    interval: Interval | None = Field(
        default=None, description="With plan: only its prices billed on this interval"
    )


class CreateSubscriptionRequest(StartingPrices, Request):
    model_config = request_config(
        [
            {"customer_id": CUSTOMER_ID, "items": [{"price_id": PRICE_ID, "quantity": 5}]},
            {"customer_id": CUSTOMER_ID, "items": [{"price_id": PRICE_ID}], "trial_days": 14},
            {"customer_id": CUSTOMER_ID, "items": [{"lookup_key": "pro_monthly_eur"}]},
            {"customer_id": CUSTOMER_ID, "plan": "PRO", "interval": "month"},
        ]
    )
    trial_days: Annotated[StrictInt, Field(ge=0, le=MAX_TRIAL_DAYS)] | None = Field(
        default=None, description="Omitted: the longest default trial of the prices"
    )
    incomplete: bool = Field(
        default=False,
        description="Wait for the first payment (activate), expiring after 23 hours",
    )


class ChangeItemsRequest(Request):
    model_config = request_config(
        [
            {"items": [{"price_id": PRICE_ID, "quantity": 8}]},
            {"items": [{"price_id": PRICE_ID}], "proration": "period_end"},
            {"items": [{"lookup_key": "business_monthly_eur"}]},
        ]
    )
    items: list[ItemRequest] = Field(
        min_length=1,
        max_length=MAX_SUBSCRIPTION_ITEMS,
        description="The new items. " + rules.SUBSCRIPTION_ITEMS,
    )
    proration: Proration = Field(
        default="prorate",
        description="prorate: credit the unused old, charge the new for the rest of the "
        "period; none: swap, no lines; period_end: switch at the next renewal",
    )


class CancelRequest(Request):
    model_config = request_config([{"at_period_end": True}, {}])
    at_period_end: bool = Field(
        default=False,
        description="True: keep it until the period ends (can be undone); not for a paused one",
    )


class PauseRequest(Request):
    model_config = request_config([{"resume_at": "2030-02-01T00:00:00Z"}, {}])
    resume_at: Timestamp | None = Field(
        default=None, description=f"Resume by itself then; omitted: until resumed. {TIMESTAMP_RULE}"
    )


class ExtendTrialRequest(Request):
    model_config = request_config([{"trial_end": "2030-02-01T00:00:00Z"}])
    trial_end: Timestamp = Field(description=f"Later than the current trial end. {TIMESTAMP_RULE}")


class SubscriptionLine(BaseModel):
    price_id: UUID
    quantity: int
    amount: int = Field(description="Per period, minor units (0 for metered prices)")


class ProrationLine(BaseModel):
    description: str
    amount: int = Field(description="Signed minor units: negative is a credit")
    at: Instant


class Subscription(ApiObject):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": SUBSCRIPTION_ID,
                    "object": "subscription",
                    "created": "2030-01-15T09:00:00.000000Z",
                    "customer_id": CUSTOMER_ID,
                    "status": "active",
                    "currency": "EUR",
                    "items": [{"price_id": PRICE_ID, "quantity": 1, "amount": 2900}],
                    "interval": "month",
                    "interval_count": 1,
                    "current_period_start": "2030-01-15T09:00:00.000000Z",
                    "current_period_end": "2030-02-15T09:00:00.000000Z",
                    "cancel_at_period_end": False,
                    "proration_lines": [],
                    "next_due_at": "2030-02-15T09:00:00.000000Z",
                    "collection": "auto_charge",
                }
            ]
        },
    )
    id: UUID
    object: Literal["subscription"] = Field(default="subscription", description="Its type")
    customer_id: UUID
    status: str = Field(description=" | ".join(get_args(Status)))
    currency: str
    items: list[SubscriptionLine]
    interval: str
    interval_count: int
    current_period_start: Instant
    current_period_end: Instant
    trial_end: ShownNull[Instant] = None
    cancel_at_period_end: bool = False
    canceled_at: ShownNull[Instant] = None
    resume_at: ShownNull[Instant] = None
    pending_items: ShownNull[list[SubscriptionLine]] = Field(
        default=None, description="Items that replace the current ones at the next renewal"
    )
    proration_lines: list[ProrationLine] = Field(
        default_factory=list, description="Collected this period, billed at the next renewal"
    )
    next_due_at: ShownNull[Instant] = Field(
        default=None, description="When the scheduler next acts on it"
    )
    test_clock_id: ShownNull[UUID] = None
    run_by: Literal["tally", "provider"] = Field(
        default="tally",
        description="Who runs it: Tally, or the payment provider (`provider`), whose "
        "webhooks then bring every change (docs/subscriptions.md)",
    )
    provider_subscription: ShownNull[str] = Field(
        default=None, description="The provider's id for it, when the provider runs it"
    )
    collection: Collection = None
    collection_reason: CollectionReason = None
    created: Instant | None = created_field()
    created_at: Instant | None = None
    updated_at: Instant | None = None


class SubscriptionResult(Response):
    subscription: Subscription


class CreatedSubscription(Subscription):
    """What a create answers (docs/api.md): the subscription, with its first invoice."""

    latest_invoice: Invoice | None = Field(
        default=None,
        description="The first invoice, when it started with one; null with a trial or "
        "while incomplete",
    )
