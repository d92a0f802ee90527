"""Request and response bodies of the payment method routes
(``api/routes/payment_methods.py``)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import Field

from api.schemas.common import CUSTOMER_ID, Body, Result, examples
from api.schemas.nulls import ShownNull
from commands.limits_types import Label
from commands.provider_messages import (
    Reference,
)


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
    default: ShownNull[str] = Field(
        description="The default method's reference; null once none is attached"
    )
    data: list[dict[str, Any]]


class PaymentMethodsResult(Result):
    payment_methods: PaymentMethods
    provider_calls: list[UUID] = Field(
        default_factory=list,
        description="The provider calls that make the change at the provider too (Stripe: "
        "attach, detach, the customer's default; Paddle: detach), made right after the "
        "write; GET /v1/provider_calls/{id} shows each. Empty where the provider keeps "
        "no methods (stub, YooKassa) or for a change the provider reported itself",
    )
