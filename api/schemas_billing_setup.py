"""Request and response models for tax rates, coupons, promotion codes, billing settings,
customer credit balances and the trial balance (split from ``schemas_invoicing``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, StrictInt

from api import money_rules as rules
from api.objects import Instant, created_field
from api.schemas import ApiObject, Request, Response, request_config
from api.schemas_billing import CUSTOMER_ID
from api.schemas_invoicing import COUPON_ID, TAX_RATE_ID, Percentage
from commands.limits_types import Code, Description, Label, Timestamp
from commands.messages import Amount, CurrencyCode, Reason
from domain.limits import (
    INVOICE_PREFIX_PATTERN,
    MAX_ADDRESS_LINES,
    MAX_AMOUNT_MINOR,
    MAX_FINALIZE_DELAY_S,
    MAX_INVOICE_PREFIX_CHARS,
    MAX_PAYMENT_TERMS_DAYS,
    MAX_RETRIES,
    MAX_RETRY_DAY,
)

# -- tax rates ---------------------------------------------------------------------------------


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


# -- coupons and promotion codes ---------------------------------------------------------------


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
    duration_periods: Annotated[StrictInt, Field(ge=1, le=120)] | None = None
    max_redemptions: Annotated[StrictInt, Field(ge=1)] | None = None
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
    percent_off: str | None = None
    amount_off: int | None = None
    currency: str | None = None
    duration: str = "once"
    duration_periods: int | None = None
    max_redemptions: int | None = None
    expires_at: Instant | None = None
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
    max_redemptions: Annotated[StrictInt, Field(ge=1)] | None = None
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
    max_redemptions: int | None = None
    expires_at: Instant | None = None
    times_redeemed: int = 0
    active: bool = True
    created: Instant | None = created_field()
    created_at: Instant | None = None


class PromotionCodeResult(Response):
    promotion_code: PromotionCode


class ApplyCouponRequest(Request):
    model_config = request_config([{"coupon_code": "SPRING25"}, {"promotion_code": "FRIENDS"}])
    coupon_code: Code | None = None
    promotion_code: Code | None = None


# -- billing settings and customer billing -----------------------------------------------------


class ConfigureBillingRequest(Request):
    model_config = request_config(
        [
            {"invoice_prefix": "ACME", "retry_days": [3, 5, 7], "final_action": "unpaid"},
            {"auto_charge_provider": "stub", "default_tax_rate_ids": [TAX_RATE_ID]},
            {
                "seller_address": ["Acme GmbH", "Hauptstrasse 1", "10115 Berlin, Germany"],
                "seller_tax_id": "VAT DE123456789",
                "payment_terms_days": 14,
                "payment_instructions": "Bank transfer to IBAN DE89 3704 0044 0532 0130 00",
            },
        ]
    )
    invoice_prefix: (
        Annotated[
            str,
            Field(
                min_length=1, max_length=MAX_INVOICE_PREFIX_CHARS, pattern=INVOICE_PREFIX_PATTERN
            ),
        ]
        | None
    ) = Field(
        default=None,
        description="Numbers read <prefix>-<year>-<six digits> "
        "(<prefix>-TC-<year>-<six digits> for invoices on a test clock)",
    )
    finalize_delay_s: Annotated[StrictInt, Field(ge=0, le=MAX_FINALIZE_DELAY_S)] | None = Field(
        default=None, description="How long a subscription's draft waits to be finalized"
    )
    retry_days: list[Annotated[StrictInt, Field(ge=1, le=MAX_RETRY_DAY)]] | None = Field(
        default=None,
        max_length=MAX_RETRIES,
        description="Days after the first failure, strictly increasing (else 422 "
        "`invalid_combination`)",
    )
    final_action: Literal["canceled", "unpaid"] | None = Field(
        default=None, description="The subscription's fate when the last retry fails"
    )
    auto_charge_provider: Literal["", "stripe", "paddle", "yookassa", "stub"] | None = Field(
        default=None,
        description="Charge subscription invoices through it when finalized (by the outbox, "
        "with the customer's default payment method there)",
    )
    default_tax_rate_ids: list[UUID] | None = Field(default=None, max_length=5)
    seller_address: list[Label] | None = Field(
        default=None,
        max_length=MAX_ADDRESS_LINES,
        description="The seller's address on invoice documents, one line each",
    )
    seller_tax_id: Label | None = Field(
        default=None, description="Shown under the seller's address (e.g. a VAT number)"
    )
    payment_instructions: Description | None = Field(
        default=None, description="How to pay, shown at the foot of invoice documents"
    )
    payment_terms_days: Annotated[StrictInt, Field(ge=0, le=MAX_PAYMENT_TERMS_DAYS)] | None = Field(
        default=None,
        description="An invoice is due this many days after it is issued (0: on receipt)",
    )


class BillingSettings(Response):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "invoice_prefix": "INV",
                    "finalize_delay_s": 0,
                    "retry_days": [3, 5, 7],
                    "final_action": "canceled",
                    "auto_charge_provider": "",
                    "default_tax_rate_ids": [],
                    "seller_address": ["Acme GmbH", "Hauptstrasse 1", "10115 Berlin"],
                    "seller_tax_id": "VAT DE123456789",
                    "payment_instructions": "Bank transfer to IBAN DE89 3704 0044 0532 0130 00",
                    "payment_terms_days": 14,
                }
            ]
        },
    )
    invoice_prefix: str
    finalize_delay_s: int
    retry_days: list[int]
    final_action: str
    auto_charge_provider: str
    default_tax_rate_ids: list[str]
    seller_address: list[str] = Field(default_factory=list)
    seller_tax_id: str = ""
    payment_instructions: str = ""
    payment_terms_days: int = 0


class BillingSettingsResult(Response):
    billing_settings: BillingSettings


class AdjustCreditRequest(Request):
    model_config = request_config(
        [{"amount": 2500, "reason": "goodwill"}, {"amount": -500, "reason": "correction"}]
    )
    amount: Annotated[
        StrictInt,
        # Never 0, which adjusts nothing (the domain refuses it too).
        Field(ge=-MAX_AMOUNT_MINOR, le=MAX_AMOUNT_MINOR, json_schema_extra={"not": {"const": 0}}),
    ] = Field(
        description="Signed minor units, not 0: positive grants credit, negative takes it "
        "back. " + rules.CREDIT_BALANCE
    )
    reason: Reason = ""


class CustomerBilling(Response):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "customer_id": CUSTOMER_ID,
                    "currency": "EUR",
                    "credit_balance": 2500,
                    "coupons": {},
                }
            ]
        },
    )
    customer_id: UUID
    currency: str | None = None
    credit_balance: int = Field(default=0, description="Owed to the customer, minor units")
    coupons: dict[str, Any] = Field(
        default_factory=dict, description="Coupons attached: customer-wide or per subscription"
    )


class CustomerBillingResult(Response):
    billing: CustomerBilling
    coupon: Coupon | None = None
    entry: Any = Field(default=None, description="The journal postings of an adjustment")


# -- reports -----------------------------------------------------------------------------------


class CurrencyBalance(Response):
    accounts: dict[str, int] = Field(description="Ledger account to balance, minor units")
    total: int = Field(description="Always 0: every entry balances")


class TrialBalance(Response):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "currencies": {
                        "EUR": {
                            "accounts": {
                                "revenue": 8000,
                                "tax_payable:…": 1520,
                                "receivable:…": -9520,
                            },
                            "total": 0,
                        }
                    }
                }
            ]
        },
    )
    currencies: dict[str, CurrencyBalance]
