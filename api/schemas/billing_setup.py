"""Request and response models of the billing setup routes: tax rates, coupons, promotion
codes (``api/routes/billing_setup.py``)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, StrictInt

from api.objects import Instant, created_field
from api.schemas.common import ApiObject, Request, Response, request_config
from api.schemas.nulls import ShownNull
from commands.limits_types import (
    Code,
    Label,
    Timestamp,
)
from commands.messages import Amount, CurrencyCode
from domain.limits import MAX_COUPON_PERIODS, MAX_REDEMPTIONS

TAX_RATE_ID = "7d6c5b4a-3f2e-5d1c-9b0a-8f7e6d5c4b3a"


COUPON_ID = "3e4f5a6b-7c8d-5e9f-8a0b-1c2d3e4f5a6b"


Percentage = Annotated[
    str,
    Field(
        min_length=1,
        max_length=12,
        pattern=r"^[0-9]+(\.[0-9]+)?$",
        description="A decimal string from 0 to 100, at most 4 decimal places",
        examples=["19", "7.5"],
    ),
]


class DefineTaxRateRequest(Request):
    model_config = request_config(
        [
            {"percentage": "19", "jurisdiction": "DE", "name": "MwSt"},
            {"percentage": "20", "inclusive": True, "jurisdiction": "GB", "name": "VAT"},
        ]
    )
    percentage: Percentage
    inclusive: bool = Field(
        default=False, description="True: already inside line amounts; false: added on top"
    )
    jurisdiction: Label = ""
    name: Label = ""


class TaxRate(ApiObject):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": TAX_RATE_ID,
                    "object": "tax_rate",
                    "created": "2030-01-01T09:00:00.000000Z",
                    "percentage": "19",
                    "inclusive": False,
                    "jurisdiction": "DE",
                    "name": "MwSt",
                    "active": True,
                }
            ]
        },
    )
    id: UUID
    object: Literal["tax_rate"] = Field(default="tax_rate", description="Its type")
    percentage: str
    inclusive: bool
    jurisdiction: str = ""
    name: str = ""
    active: bool = True
    created: Instant | None = created_field()
    created_at: Instant | None = None
    updated_at: Instant | None = None


class TaxRateResult(Response):
    tax_rate: TaxRate


class DefineCouponRequest(Request):
    model_config = request_config(
        [
            {"code": "SPRING25", "percent_off": "25", "duration": "once"},
            {
                "code": "TENOFF",
                "amount_off": 1000,
                "currency": "EUR",
                "duration": "repeating",
                "duration_periods": 3,
                "max_redemptions": 100,
            },
        ]
    )
    code: Code
    percent_off: Percentage | None = Field(default=None, description="Either this ...")
    amount_off: Amount | None = Field(default=None, description="... or this, with currency")
    currency: CurrencyCode | None = None
    duration: Literal["once", "repeating", "forever"] = Field(
        default="once", description="On subscriptions: how many invoices it discounts"
    )
    duration_periods: Annotated[StrictInt, Field(ge=1, le=MAX_COUPON_PERIODS)] | None = None
    max_redemptions: Annotated[StrictInt, Field(ge=1, le=MAX_REDEMPTIONS)] | None = None
    expires_at: Timestamp | None = None


class Coupon(ApiObject):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": COUPON_ID,
                    "object": "coupon",
                    "created": "2030-01-01T09:00:00.000000Z",
                    "code": "SPRING25",
                    "percent_off": "25",
                    "amount_off": None,
                    "currency": None,
                    "duration": "once",
                    "max_redemptions": 100,
                    "times_redeemed": 3,
                    "active": True,
                }
            ]
        },
    )
    id: UUID
    object: Literal["coupon"] = Field(default="coupon", description="Its type")
    code: str
    percent_off: ShownNull[str] = None
    amount_off: ShownNull[int] = None
    currency: ShownNull[str] = None
    duration: str = "once"
    duration_periods: ShownNull[int] = None
    max_redemptions: ShownNull[int] = None
    expires_at: ShownNull[Instant] = None
    times_redeemed: int = 0
    active: bool = True
    created: Instant | None = created_field()
    created_at: Instant | None = None
    updated_at: Instant | None = None


class CouponResult(Response):
    coupon: Coupon


class DefinePromotionCodeRequest(Request):
    model_config = request_config(
        [{"code": "FRIENDS", "coupon_code": "SPRING25", "max_redemptions": 10}]
    )
    code: Code = Field(description="What a customer types")
    coupon_code: Code = Field(description="The coupon it redeems")
    max_redemptions: Annotated[StrictInt, Field(ge=1, le=MAX_REDEMPTIONS)] | None = None
    expires_at: Timestamp | None = None


class PromotionCode(ApiObject):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": "5b6c7d8e-9f0a-5b1c-8d2e-3f4a5b6c7d8e",
                    "object": "promotion_code",
                    "created": "2030-01-01T09:00:00.000000Z",
                    "code": "FRIENDS",
                    "coupon_id": COUPON_ID,
                    "max_redemptions": 10,
                    "times_redeemed": 0,
                }
            ]
        },
    )
    id: UUID
    object: Literal["promotion_code"] = Field(default="promotion_code", description="Its type")
    code: str
    coupon_id: UUID | None = None
    coupon: Coupon | None = None
    max_redemptions: ShownNull[int] = None
    expires_at: ShownNull[Instant] = None
    times_redeemed: int = 0
    active: bool = True
    created: Instant | None = created_field()
    created_at: Instant | None = None


# The body of a coupon route: a customer's, a subscription's (api/routes/billing_settings.py)
# and an invoice's (api/routes/invoices.py).
class ApplyCouponRequest(Request):
    model_config = request_config([{"coupon_code": "SPRING25"}, {"promotion_code": "FRIENDS"}])
    coupon_code: Code | None = None
    promotion_code: Code | None = None
