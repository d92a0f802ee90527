"""Request and response bodies of the payment routes (checkouts, top-ups, refunds, carts,
payment methods, provider calls, provider events, provider settings)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictInt

from api import money_rules as rules
from api.objects import Instant, Typed, created_field
from api.schemas_billing import CUSTOMER_ID, PRICE_ID
from api.schemas_subscriptions import StartingPrices
from commands.limits_types import Label
from commands.messages import Amount, CurrencyCode, Text
from commands.provider_messages import (
    ApiBase,
    CredentialPurpose,
    EnvVarName,
    LineInput,
    ProviderName,
    Reference,
    Url,
)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


_RETURN = {"success_url": "https://example.com/welcome", "cancel_url": "https://example.com/plans"}
CART_ID = "5b0f1d2e-3c4a-4b5c-8d6e-7f8091a2b3c4"
CALL_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


def examples(*found: dict[str, Any], extra: Literal["forbid", "allow"] = "forbid") -> ConfigDict:
    """A model's config with its OpenAPI examples (docs/api.md: every body and object)."""
    return ConfigDict(extra=extra, json_schema_extra={"examples": list(found)})  # type: ignore[dict-item]


class Result(BaseModel):
    """Answers carry the write side's summaries; documented loosely, kept whole."""

    model_config = ConfigDict(extra="allow")


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
    operation: str = Field(description="checkout, charge, refund or create_customer")
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
    trial_days: Annotated[StrictInt, Field(ge=0, le=730)] | None = Field(
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


class CartRequest(Body):
    model_config = examples({"currency": "EUR", "customer_id": CUSTOMER_ID}, {"currency": "EUR"})
    currency: CurrencyCode
    customer_id: UUID | None = None


class CartItemRequest(Body):
    model_config = examples(
        {"line": {"price_id": PRICE_ID, "quantity": 1}},
        {"line": {"name": "Mug", "unit_amount": 900, "currency": "EUR", "quantity": 2}},
    )
    line: LineInput = Field(description=rules.CART_LINE)


class Cart(Result, Typed):
    model_config = examples(
        {
            "id": CART_ID,
            "object": "cart",
            "currency": "EUR",
            "status": "open",
            "lines": [
                {"id": "line_1", "name": "Mug", "unit_amount": 900, "quantity": 2, "amount": 1800}
            ],
            "total": 1800,
            "created": "2030-01-01T09:00:00.000000Z",
        },
        extra="allow",
    )
    id: UUID
    object: Literal["cart"] = Field(default="cart", description="Its type")
    currency: str
    status: str
    lines: list[dict[str, Any]]
    total: int
    created: Instant | None = created_field()
    created_at: Instant | None = None
    updated_at: Instant | None = None


class CartResult(Result):
    cart: Cart


class PaymentMethodRef(Body):
    model_config = examples({"customer_id": CUSTOMER_ID})
    customer_id: UUID


class AttachRequest(Body):
    model_config = examples(
        {
            "customer_id": CUSTOMER_ID,
            "payment_method": "stub_pm_4242424242424242",
            "label": "Visa ending 4242",
            "make_default": True,
        }
    )
    customer_id: UUID
    payment_method: Reference = Field(
        description="The provider's reference from its own setup flow (pm_..., "
        "stub_pm_<test card>); never a card number"
    )
    label: Label = ""
    make_default: bool = False


class PaymentMethods(Result):
    customer_id: UUID
    default: str | None = Field(
        description="The default method's reference; null once none is attached"
    )
    data: list[dict[str, Any]]


class PaymentMethodsResult(Result):
    payment_methods: PaymentMethods


class WebhookEvent(Result, Typed):
    model_config = examples(
        {
            "id": "9c8b7a6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
            "object": "webhook_event",
            "provider": "stripe",
            "event_id": "evt_1PqR2s",
            "type": "checkout.session.completed",
            "status": "applied",
            "created": "2030-01-01T09:00:00.000000Z",
        },
        extra="allow",
    )
    id: UUID
    object: Literal["webhook_event"] = Field(default="webhook_event", description="Its type")
    provider: str
    event_id: str
    type: str
    status: str = Field(description="received, applied, ignored, parked or failed")
    created: Instant | None = created_field()
    created_at: Instant | None = None
    updated_at: Instant | None = None


class WebhookAnswer(Result):
    recorded: int
    duplicates: int
    events: list[WebhookEvent]


class ProviderSettingsRequest(Body):
    # The stub only: an example is also a request the fuzzing run sends.
    model_config = examples({"provider": "stub"})
    provider: ProviderName
    credential_env: dict[CredentialPurpose, EnvVarName] = Field(
        default_factory=dict,
        max_length=4,
        description="Credential purpose -> the NAME of the environment variable holding it "
        '(e.g. {"api_key": "ACME_STRIPE_KEY"}); the secret stays in the environment',
    )
    credentials: dict[
        CredentialPurpose,
        Annotated[SecretStr, Field(min_length=1, max_length=4096)],
    ] = Field(
        default_factory=dict,
        max_length=4,
        description="Credential purpose -> the secret itself, stored encrypted with the "
        'server\'s TALLY_SECRETS_KEY (e.g. {"webhook_secret": "whsec_..."}). Never shown '
        "again: answers say only `encrypted`. A purpose comes from credential_env or from "
        "credentials, not both. Refused (409 secret_storage_disabled) when the server has "
        "no key.",
    )
    api_base: ApiBase = ""


class ProviderSettingsResult(Result):
    payment_provider: dict[str, Any]
