"""Request and response bodies of the checkout routes: checkouts, top-ups, refunds, the
portal, provider calls (``api/routes/checkout.py``)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, StrictInt

from api import money_rules as rules
from api.objects import Instant, Typed, created_field
from api.schemas.common import CART_ID, CUSTOMER_ID, PRICE_ID, Body, Result, examples
from api.schemas.subscriptions import StartingPrices
from commands.messages import Amount, CurrencyCode, Text
from commands.provider_messages import (
    LineInput,
    Reference,
    Url,
)
from domain.limits import MAX_TRIAL_DAYS

_RETURN = {"success_url": "https://example.com/welcome", "cancel_url": "https://example.com/plans"}


CALL_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


class ProviderCall(Result, Typed):
    model_config = examples(
        {
            "id": CALL_ID,
            "object": "provider_call",
            "provider": "stub",
            "operation": "checkout",
            "state": "succeeded",
            "attempts": 1,
            "next_attempt_at": None,
            "idempotency_key": "checkout:0a1b2c3d",
            "url": "http://127.0.0.1:8000/v1/stub/checkout/tok_123",
            "transaction_id": None,
            "created": "2030-01-01T09:00:00.000000Z",
        },
        extra="allow",
    )
    id: UUID
    object: Literal["provider_call"] = Field(default="provider_call", description="Its type")
    provider: str
    operation: str = Field(
        description="checkout, charge, refund, create_customer, payment_method (a saved "
        "method attached, detached or made the default at the provider), or for "
        "subscriptions the provider runs create_subscription, change_subscription, "
        "get_invoice"
    )
    state: str = Field(description="pending, succeeded or failed")
    attempts: int
    next_attempt_at: Instant | None = None
    error_code: str | None = None
    last_error: str | None = None
    idempotency_key: str = Field(description="Sent to the provider on every attempt")
    url: str | None = Field(default=None, description="The hosted page, for checkouts")
    payment_ref: str | None = None
    transaction_id: UUID | None = Field(
        default=None, description="The ledger transaction it pays or refunds, if any"
    )
    refund_status: str | None = Field(
        default=None,
        description="A refund's outcome: succeeded, pending_approval (the provider reviews "
        "it, as Paddle does; its webhook decides) or rejected; null for other calls",
    )
    created: Instant | None = created_field()
    created_at: Instant | None = None
    updated_at: Instant | None = None


class CheckoutResult(Result):
    provider_call: ProviderCall
    url: str | None = Field(
        default=None,
        description="The provider's hosted page; null while the provider call is pending "
        "(the provider is unavailable: GET /v1/provider_calls/{id} later)",
    )


class ItemCheckoutRequest(Body):
    model_config = examples(
        {"customer_id": CUSTOMER_ID, "line": {"price_id": PRICE_ID, "quantity": 2}, **_RETURN},
        {"line": {"name": "Mug", "unit_amount": 900, "currency": "EUR"}, **_RETURN},
    )
    customer_id: UUID | None = None
    line: LineInput = Field(description=rules.CHECKOUT_LINE)
    success_url: Url
    cancel_url: Url


class SubscriptionCheckoutRequest(StartingPrices, Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "customer_id": CUSTOMER_ID,
                    "items": [{"lookup_key": "pro_monthly_eur"}],
                    **_RETURN,
                },
                {"customer_id": CUSTOMER_ID, "plan": "PRO", "interval": "month", **_RETURN},
                {
                    "customer_id": CUSTOMER_ID,
                    "items": [{"price_id": PRICE_ID, "quantity": 3}],
                    "trial_days": 0,
                    **_RETURN,
                },
            ]
        },
    )
    trial_days: Annotated[StrictInt, Field(ge=0, le=MAX_TRIAL_DAYS)] | None = Field(
        default=None,
        description="Omitted: the longest default trial of the prices; 0: no trial. With a "
        "trial the checkout saves a payment method and charges nothing",
    )
    success_url: Url
    cancel_url: Url


class CartCheckoutRequest(Body):
    model_config = examples({"cart_id": CART_ID, **_RETURN})
    cart_id: UUID
    success_url: Url
    cancel_url: Url


class TopUpRequest(Body):
    model_config = examples(
        {"amount": 5000, "currency": "EUR", **_RETURN},
        {"amount": 2000, "currency": "EUR", "payment_method": "stub_pm_4242424242424242"},
    )
    amount: Amount = Field(description=rules.BALANCE)
    currency: CurrencyCode
    payment_method: Reference | None = Field(
        default=None,
        description="A saved payment method: charged off-session. Without one, the answer "
        "holds a hosted checkout URL.",
    )
    success_url: Url = "http://127.0.0.1/"
    cancel_url: Url = "http://127.0.0.1/"
    description: Text = ""


class RefundRequest(Body):
    model_config = examples({"amount": 500, "reason": "damaged item"}, {})
    amount: Amount | None = None
    reason: Text = ""


class PortalRequest(Body):
    model_config = examples(
        {"customer_id": CUSTOMER_ID, "return_url": "https://example.com/account"}
    )
    customer_id: UUID
    return_url: Url


class PortalResult(Result):
    url: str
    provider: str
