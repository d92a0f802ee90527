"""Command messages of customers, the catalog, subscriptions and test clocks (handlers:
``commands.customers``, ``commands.catalog``, ``commands.subscriptions``,
``commands.test_clocks``).
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from commands.limits_types import (
    Email,
    Label,
    LookupKey,
    Metadata,
    Name,
    NameOrBlank,
    PlanCode,
    Ref,
    Timestamp,
)
from commands.messages.base import Command, CurrencyCode, Quantity
from domain.limits import (
    MAX_AMOUNT_MINOR,
    MAX_PACKAGE_UNITS,
    MAX_PRICE_TIERS,
    MAX_QUANTITY,
    MAX_SUBSCRIPTION_ITEMS,
    MAX_TRIAL_DAYS,
)
from domain.periods import MAX_INTERVAL_COUNT

ExternalId = Ref


class RegisterCustomer(Command):
    external_id: ExternalId
    email: Email = ""
    name: NameOrBlank = ""
    # None: the project's default currency (Project.currency_or_default).
    currency: CurrencyCode | None = None
    metadata: Metadata = Field(default_factory=dict)
    test_clock_id: UUID | None = None


class UpdateCustomer(Command):
    customer_id: UUID
    email: Email | None = None
    name: NameOrBlank | None = None
    metadata: Metadata | None = None


class DefineProduct(Command):
    code: PlanCode
    name: Name
    features: list[Label] = Field(default_factory=list, max_length=100)
    # The creator's opaque external id (issue 13); omitted: left as it is.
    owner: Ref | None = None


class ArchiveProduct(Command):
    product_id: UUID


class PriceTier(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    up_to: (
        Annotated[
            StrictInt,
            Field(gt=0, le=MAX_QUANTITY, description="Last quantity of the tier; null: no end"),
        ]
        | None
    )
    unit_amount: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR)] = 0
    flat_amount: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR)] = 0


class PricePackage(BaseModel):
    """A ``metered_package`` price's terms (``domain.usage_packages``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    size: Annotated[
        StrictInt,
        Field(ge=1, le=MAX_PACKAGE_UNITS, description="Units of the meter in one package"),
    ]
    round: Literal["up", "down"] = Field(
        default="up", description="up: a started package is charged whole; down: only full ones"
    )
    free_units: Annotated[
        StrictInt,
        Field(ge=0, le=MAX_PACKAGE_UNITS, description="Units each period that cost nothing"),
    ] = 0


class DefinePrice(Command):
    product_id: UUID
    lookup_key: LookupKey
    currency: CurrencyCode
    scheme: Annotated[
        str,
        Field(
            pattern="^(flat|per_unit|graduated|volume|metered|metered_graduated|metered_volume"
            "|metered_package)$"
        ),
    ]
    unit_amount: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR)] = 0
    tiers: list[PriceTier] = Field(default_factory=list, max_length=MAX_PRICE_TIERS)
    meter: Label = ""
    interval: Annotated[str, Field(pattern="^(day|week|month|year)$")] | None = None
    interval_count: Annotated[StrictInt, Field(ge=1, le=MAX_INTERVAL_COUNT)] = 1
    trial_days: Annotated[StrictInt, Field(ge=0, le=MAX_TRIAL_DAYS)] = 0
    package: PricePackage | None = None


class ArchivePrice(Command):
    price_id: UUID


class SubscriptionItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    price_id: UUID
    quantity: Quantity = 1


class CreateSubscription(Command):
    customer_id: UUID
    items: list[SubscriptionItem] = Field(min_length=1, max_length=MAX_SUBSCRIPTION_ITEMS)
    trial_days: Annotated[StrictInt, Field(ge=0, le=MAX_TRIAL_DAYS)] | None = None
    incomplete: bool = False


class ChangeSubscriptionItems(Command):
    subscription_id: UUID
    items: list[SubscriptionItem] = Field(min_length=1, max_length=MAX_SUBSCRIPTION_ITEMS)
    proration: Annotated[str, Field(pattern="^(prorate|none|period_end)$")] = "prorate"


class CancelSubscription(Command):
    subscription_id: UUID
    at_period_end: bool = False


class UndoCancelSubscription(Command):
    subscription_id: UUID


class PauseSubscription(Command):
    subscription_id: UUID
    resume_at: Timestamp | None = None


class ResumeSubscription(Command):
    subscription_id: UUID


class ExtendTrial(Command):
    subscription_id: UUID
    trial_end: Timestamp


class ActivateSubscription(Command):
    subscription_id: UUID


class ProcessDueSubscription(Command):
    subscription_id: UUID


class CreateTestClock(Command):
    name: Label = ""
    frozen_time: Timestamp


class AdvanceTestClock(Command):
    test_clock_id: UUID
    to: Timestamp
