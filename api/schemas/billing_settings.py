"""Request and response models of the billing settings routes: billing settings, a
customer's billing, coupon and credit (``api/routes/billing_settings.py``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, StrictInt

from api import money_rules as rules
from api.schemas.billing_setup import TAX_RATE_ID, Coupon
from api.schemas.common import CUSTOMER_ID, Request, Response, request_config
from commands.limits_types import Description, Label
from commands.messages import Reason
from domain.billing_settings import PLATFORM_FEE_PATTERN
from domain.limits import (
    INVOICE_PREFIX_PATTERN,
    MAX_ADDRESS_LINES,
    MAX_AMOUNT_MINOR,
    MAX_FINALIZE_DELAY_S,
    MAX_INVOICE_PREFIX_CHARS,
    MAX_PAYMENT_TERMS_DAYS,
    MAX_RETRIES,
    MAX_RETRY_DAY,
    MAX_USAGE_LATE_GRACE_S,
    USAGE_LATE_GRACE_S,
)


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
    usage_late_grace_s: Annotated[StrictInt, Field(ge=0, le=MAX_USAGE_LATE_GRACE_S)] | None = Field(
        default=None,
        description="How long after an invoiced period's end a late usage event for it is "
        "still accepted and billed on the next invoice (default 86400; 0: refused at once)",
    )
    platform_fee_percent: (
        Annotated[str, Field(pattern=PLATFORM_FEE_PATTERN, examples=["12.5"])] | None
    ) = Field(
        default=None,
        description="What the platform keeps of a product's paid revenue, in percent (a "
        "decimal string, 0 to 100, at most two decimals; default 0): its creator earns the "
        "rest (GET /v1/products/{id}/earnings). Applied to invoices paid from then on",
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
    usage_late_grace_s: int = USAGE_LATE_GRACE_S
    platform_fee_percent: str = "0"


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
