"""Request and response models of the catalog routes: products, prices, plans
(``api/routes/catalog.py``).

Field types reuse the command messages' annotated types where they exist, so the API and
the commands cannot disagree; enumerations (price scheme, interval) are ``Literal`` here
so that OpenAPI lists their values."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, StrictInt

from api import money_rules as rules
from api.objects import Instant, created_field
from api.schemas.common import PRICE_ID, ApiObject, Request, Response, request_config
from api.schemas.nulls import AsRecorded, ShownNull
from commands.limits_types import Label, LookupKey, Name, PlanCode, Ref
from commands.messages import CurrencyCode, PricePackage, PriceTier
from domain.limits import MAX_AMOUNT_MINOR, MAX_FEATURES, MAX_PRICE_TIERS, MAX_TRIAL_DAYS
from domain.periods import MAX_INTERVAL_COUNT

Scheme = Literal[
    "flat",
    "per_unit",
    "graduated",
    "volume",
    "metered",
    "metered_graduated",
    "metered_volume",
    "metered_package",
]


Interval = Literal["day", "week", "month", "year"]


MinorUnits = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR, description="Minor units")]


PRODUCT_ID = "2b3c4d5e-6f70-5812-9a3b-4c5d6e7f8091"


class DefineProductRequest(Request):
    model_config = request_config(
        [{"code": "PRO", "name": "Pro", "features": ["api", "sso", "priority_support"]}]
    )
    code: Annotated[
        PlanCode,
        Field(description="The plan code; defining the same code again revises name and features"),
    ]
    name: Name
    features: list[Label] = Field(
        default_factory=list, max_length=MAX_FEATURES, description="What the plan grants"
    )
    owner: Ref | None = Field(
        default=None,
        description="The creator of the product (an opaque external id, e.g. a marketplace "
        "seller's): whose usage and earnings GET /v1/products/{id}/usage and /earnings "
        "count. Omitted: left as it is",
    )


class Product(ApiObject):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": PRODUCT_ID,
                    "object": "product",
                    "created": "2030-01-01T09:00:00.000000Z",
                    "code": "PRO",
                    "name": "Pro",
                    "features": ["api", "sso"],
                    "active": True,
                    "prices": {"pro_monthly_eur": PRICE_ID},
                }
            ]
        },
    )
    id: UUID
    object: Literal["product"] = Field(default="product", description="Its type")
    code: str
    name: str
    features: list[str] = Field(default_factory=list)
    active: bool
    owner: ShownNull[str] = Field(default=None, description="Its creator; null: none")
    prices: dict[str, str] = Field(
        default_factory=dict, description="Lookup key to the id of its current price"
    )
    created: Instant | None = created_field()
    created_at: Instant | None = None
    updated_at: Instant | None = None


class ProductResult(Response):
    product: Product


class DefinePriceRequest(Request):
    model_config = request_config(
        [
            {
                "product_id": PRODUCT_ID,
                "lookup_key": "pro_monthly_eur",
                "currency": "EUR",
                "scheme": "flat",
                "unit_amount": 2900,
                "interval": "month",
                "trial_days": 14,
            },
            {
                "product_id": PRODUCT_ID,
                "lookup_key": "pro_seats_eur",
                "currency": "EUR",
                "scheme": "graduated",
                "tiers": [
                    {"up_to": 10, "unit_amount": 500},
                    {"up_to": None, "unit_amount": 400},
                ],
                "interval": "month",
            },
            {
                "product_id": PRODUCT_ID,
                "lookup_key": "setup_fee_eur",
                "currency": "EUR",
                "scheme": "flat",
                "unit_amount": 10000,
            },
        ]
    )
    product_id: UUID
    lookup_key: Annotated[
        LookupKey,
        Field(
            description="The name the product knows this price by. Same definition again: "
            "no change. Changed definition: a new price, and the old one is archived.",
        ),
    ]
    currency: CurrencyCode
    scheme: Scheme
    unit_amount: MinorUnits = Field(default=0, description="Minor units. " + rules.PRICE)
    tiers: list[PriceTier] = Field(
        default_factory=list,
        max_length=MAX_PRICE_TIERS,
        description="graduated, volume, metered_graduated and metered_volume only",
    )
    meter: Annotated[
        Label,
        Field(description="metered, metered_graduated, metered_volume, metered_package: the meter"),
    ] = ""
    package: PricePackage | None = Field(
        default=None,
        description="metered_package only (and required there): unit_amount is charged per "
        "package of `size` units of the meter's quantity over a period, after `free_units`",
    )
    interval: Interval | None = Field(default=None, description="Omitted: a one-time price")
    interval_count: Annotated[StrictInt, Field(ge=1, le=MAX_INTERVAL_COUNT)] = 1
    trial_days: Annotated[
        StrictInt, Field(ge=0, le=MAX_TRIAL_DAYS, description="Default trial; recurring only")
    ] = 0


class Price(ApiObject):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": PRICE_ID,
                    "object": "price",
                    "created": "2030-01-01T09:00:00.000000Z",
                    "product_id": PRODUCT_ID,
                    "lookup_key": "pro_monthly_eur",
                    "currency": "EUR",
                    "scheme": "flat",
                    "unit_amount": 2900,
                    "tiers": [],
                    "meter": "",
                    "interval": "month",
                    "interval_count": 1,
                    "trial_days": 14,
                    "active": True,
                }
            ]
        },
    )
    id: UUID
    object: Literal["price"] = Field(default="price", description="Its type")
    product_id: UUID
    lookup_key: ShownNull[str] = Field(
        default=None,
        description="The key it was published under (null only for prices published "
        "before Tally recorded it on the price)",
    )
    currency: str
    scheme: str = Field(
        description="flat | per_unit | graduated | volume | metered | metered_graduated | "
        "metered_volume | metered_package"
    )
    unit_amount: int = 0
    tiers: AsRecorded[list[PriceTier]] = Field(default_factory=list)
    meter: str = ""
    package: ShownNull[PricePackage] = Field(
        default=None, description="A metered_package price's package; null for the others"
    )
    interval: ShownNull[str] = Field(
        default=None, description="day | week | month | year; null: once"
    )
    interval_count: int = 1
    trial_days: int = 0
    active: bool
    provider_price_ids: dict[str, str] = Field(
        default_factory=dict,
        description="The provider's own price for each provider that may run "
        'subscriptions of it (`{"stripe": "price_..."}`; docs/subscriptions.md)',
    )
    created: Instant | None = created_field()
    created_at: Instant | None = None
    updated_at: Instant | None = None


class PriceResult(Response):
    price: Price


class Plan(ApiObject):
    """An active product with its active prices."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": PRODUCT_ID,
                    "object": "plan",
                    "created": "2030-01-01T09:00:00.000000Z",
                    "code": "PRO",
                    "name": "Pro",
                    "features": ["api", "sso"],
                    "active": True,
                    "prices": [
                        {
                            "id": PRICE_ID,
                            "product_id": PRODUCT_ID,
                            "lookup_key": "pro_monthly_eur",
                            "currency": "EUR",
                            "scheme": "flat",
                            "unit_amount": 2900,
                            "interval": "month",
                            "active": True,
                        }
                    ],
                }
            ]
        },
    )
    id: UUID
    object: Literal["plan"] = Field(default="plan", description="Its type")
    code: str
    name: str
    features: list[str] = Field(default_factory=list)
    active: bool = True
    prices: list[Price] = Field(default_factory=list)
    created: Instant | None = created_field()


class PlanList(Response):
    """The same shape as every list; the plan list is never paged (a catalog is small)."""

    object: Literal["list"] = Field(default="list", description="Its type: a list")
    data: list[Plan]
    has_more: bool = Field(default=False, description="Always false")
