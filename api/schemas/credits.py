"""Request and response models of the prepaid-credit routes (``api/routes/credits.py``)."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import ConfigDict, Field

from api.objects import Instant, created_field
from api.schemas.common import ApiObject, Request, Resource, request_config
from commands.credit_messages import GrantPrices, Priority, Threshold
from commands.limits_types import Timestamp
from commands.messages.base import Amount, CurrencyCode, Source, Text

CUSTOMER_ID = "6f1c2d3e-4b5a-5c6d-8e7f-9a0b1c2d3e4f"
GRANT_EXAMPLE: dict[str, Any] = {
    "customer_id": CUSTOMER_ID,
    "kind": "promotional",
    "amount": 5000,
    "currency": "EUR",
    "expires_at": "2030-03-01T00:00:00Z",
    "priority": 10,
}


class GrantCreditsRequest(Request):
    model_config = request_config(
        [GRANT_EXAMPLE, {"customer_id": CUSTOMER_ID, "kind": "paid", "amount": 10000,
                         "source": "stripe"}]
    )  # fmt: skip
    customer_id: UUID
    kind: Literal["paid", "promotional"] = Field(
        description="`paid`: funded (`source` names the clearing account the money came "
        "from); `promotional`: given (posted against `promotions`)"
    )
    amount: Amount
    currency: CurrencyCode | None = Field(default=None, description="Default: the customer's")
    expires_at: Timestamp | None = Field(
        default=None,
        description="After the customer's clock; what is left then is breakage. Omitted: never",
    )
    priority: Priority = 0
    prices: GrantPrices | None = None
    source: Source = "manual"
    description: Text = ""
    wallet_account_id: UUID | None = Field(
        default=None,
        description="A `paid` grant funded by a withdrawal of `amount` from this account, "
        "the customer's wallet (its `owner_ref` the customer's id, in the grant's "
        "currency), in the same write: both happen or neither. Such a grant cannot be "
        "voided (the money was the customer's own).",
    )


GRANT_ID = "cg_9d8c7b6a5f4e5d3c9b2a1f0e9d8c7b6a_5f0e1d2c3b4a4958"
GRANT_ANSWER: dict[str, Any] = {
    "id": GRANT_ID,
    "object": "credit_grant",
    "created": "2030-01-01T09:00:00.000000Z",
    "customer_id": CUSTOMER_ID,
    "currency": "EUR",
    "kind": "promotional",
    "amount": 5000,
    "remaining": 3200,
    "consumed": 1800,
    "expired": 0,
    "voided": 0,
    "expires_at": "2030-03-01T00:00:00.000000Z",
    "priority": 10,
    "prices": None,
    "granted_at": "2030-01-01T09:00:00.000000Z",
    "source": "",
    "description": "Welcome credits",
}


class CreditGrant(ApiObject):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [GRANT_ANSWER]})
    id: str = Field(description="`cg_<balance id>_<16 hex>`")
    object: Literal["credit_grant"] = "credit_grant"
    customer_id: UUID
    currency: str
    kind: Literal["paid", "promotional"]
    amount: int = Field(description="Granted, in minor units")
    remaining: int
    consumed: int
    expired: int = Field(description="Breakage: what was left at its expiry")
    voided: int
    voided_at: Instant | None = None
    expires_at: Instant | None = None
    priority: int
    prices: list[str] | None = Field(
        default=None, description="Left out: every metered price and direct consumption"
    )
    granted_at: Instant
    source: str
    description: str
    created: Instant | None = created_field()


class ConsumeCreditsRequest(Request):
    model_config = request_config([{"customer_id": CUSTOMER_ID, "amount": 25,
                                    "description": "completion req_81"}])  # fmt: skip
    customer_id: UUID
    amount: Amount
    currency: CurrencyCode | None = Field(default=None, description="Default: the customer's")
    price_id: UUID | None = Field(
        default=None,
        description="Also spend the grants limited to this price (else only grants for all)",
    )
    description: Text = ""


class ConsumedPart(Resource):
    grant_id: str
    amount: int


class CreditConsumption(ApiObject):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {"id": "cc_0a1b2c3d4e5f46a7b8c9d0e1f2a3b4c5", "object": "credit_consumption",
                 "created": "2030-01-15T10:04:05.000000Z", "customer_id": CUSTOMER_ID,
                 "currency": "EUR", "amount": 25, "description": "completion req_81",
                 "grants": [{"grant_id": GRANT_ID, "amount": 25}],
                 "consumed_at": "2030-01-15T10:04:05.000000Z", "balance": 3175}
            ]
        },
    )  # fmt: skip
    id: str = Field(description="`cc_...`; the same for a replay of the same Idempotency-Key")
    object: Literal["credit_consumption"] = "credit_consumption"
    customer_id: UUID
    currency: str
    amount: int
    price_id: str | None = None
    description: str
    grants: list[ConsumedPart] = Field(description="What each grant gave, in the order taken")
    consumed_at: Instant
    created: Instant | None = created_field()
    balance: int = Field(description="What the customer's credits hold after it")


class CreditThresholdRequest(Request):
    model_config = request_config([{"currency": "EUR", "low_threshold": 1000,
                                    "top_up_amount": 5000}])  # fmt: skip
    currency: CurrencyCode | None = Field(default=None, description="Default: the customer's")
    low_threshold: Threshold | None = Field(
        default=None,
        description="billing.credits.low when the balance falls below it (once per "
        "crossing); null: none. billing.credits.depleted fires at 0 either way.",
    )
    top_up_amount: Amount | None = Field(
        default=None,
        description="Charged to the customer's saved payment method at each low crossing "
        "(needs low_threshold); paid credits are granted when the charge succeeds",
    )


class CreditBalance(Resource):
    model_config = ConfigDict(extra="ignore")
    currency: str
    balance: int = Field(description="What the customer's grants hold now (expired left out)")
    low_threshold: int | None = None
    top_up_amount: int | None = None
    next_expiry_at: Instant | None = None


class CustomerCredits(Resource):
    object: Literal["customer_credits"] = "customer_credits"
    customer_id: UUID
    balances: list[CreditBalance] = Field(description="One per currency the customer has")


class CreditBalanceObject(ApiObject):
    """A customer's credits in one currency, as billing.credits.* carry them."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {"id": "9d8c7b6a-5f4e-5d3c-9b2a-1f0e9d8c7b6a", "object": "credit_balance",
                 "created": "2030-01-01T09:00:00.000000Z", "customer_id": CUSTOMER_ID,
                 "currency": "EUR", "balance": 800, "low_threshold": 1000,
                 "top_up_amount": 5000}
            ]
        },
    )  # fmt: skip
    id: UUID
    object: Literal["credit_balance"] = "credit_balance"
    customer_id: UUID
    currency: str
    balance: int = Field(description="What the customer's grants held after the change")
    low_threshold: int | None = None
    top_up_amount: int | None = None
    created: Instant | None = created_field()
    updated_at: Instant | None = None
