"""Request and response models of the customers routes, entitlements included
(``api/routes/customers.py``)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.objects import Instant, created_field
from api.schemas.common import (
    CUSTOMER_ID,
    SUBSCRIPTION_ID,
    ApiObject,
    Request,
    Response,
    request_config,
)
from api.schemas.nulls import ShownNull
from commands.limits_types import (
    Email,
    Metadata,
    NameOrBlank,
)
from commands.messages import CurrencyCode, ExternalId

PersonName = NameOrBlank


class RegisterCustomerRequest(Request):
    model_config = request_config(
        [
            {
                "external_id": "user_42",
                "email": "ada@example.com",
                "name": "Ada Lovelace",
                "currency": "EUR",
                "metadata": {"team": "analytics"},
            }
        ]
    )
    external_id: ExternalId = Field(description="Your id for this user; unique per project")
    email: Email = ""
    name: PersonName = ""
    currency: CurrencyCode | None = Field(
        default=None,
        description="Every price it subscribes to is in it. Omitted: the project's default "
        "currency (set by the operator); refused (422 `validation_error`) if it has none",
    )
    metadata: Metadata = Field(default_factory=dict)
    test_clock_id: UUID | None = Field(
        default=None, description="Test-mode projects: its subscriptions live on this clock"
    )


class UpdateCustomerRequest(Request):
    model_config = request_config([{"email": "ada@analytical.engine"}, {"name": "A. King"}])
    email: Email | None = Field(default=None, description="Omitted: unchanged")
    name: PersonName | None = Field(default=None, description="Omitted: unchanged")
    metadata: Metadata | None = Field(
        default=None, description="Omitted: unchanged; given: replaces it"
    )


class Customer(ApiObject):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": CUSTOMER_ID,
                    "object": "customer",
                    "created": "2030-01-01T09:00:00.000000Z",
                    "external_id": "user_42",
                    "email": "ada@example.com",
                    "name": "Ada Lovelace",
                    "currency": "EUR",
                    "metadata": {"team": "analytics"},
                    "provider_refs": {"stripe": "cus_123"},
                }
            ]
        },
    )
    id: UUID
    object: Literal["customer"] = Field(default="customer", description="Its type")
    external_id: str
    email: str = ""
    name: str = ""
    currency: str
    metadata: dict[str, str] = Field(default_factory=dict)
    provider_refs: dict[str, str] = Field(
        default_factory=dict, description="The customer's id at each payment provider"
    )
    test_clock_id: ShownNull[UUID] = None
    created: Instant | None = created_field()
    created_at: Instant | None = None
    updated_at: Instant | None = None


class CustomerResult(Response):
    customer: Customer


class EntitledPlan(BaseModel):
    code: str
    name: str
    subscription_id: UUID
    status: str


class Entitlements(Response):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "customer_id": CUSTOMER_ID,
                    "plans": [
                        {
                            "code": "PRO",
                            "name": "Pro",
                            "subscription_id": SUBSCRIPTION_ID,
                            "status": "active",
                        }
                    ],
                    "features": ["api", "sso"],
                    "seats": {"PRO": 5},
                }
            ]
        },
    )
    customer_id: UUID
    plans: list[EntitledPlan] = Field(
        description="Plans of its trialing, active and past_due subscriptions"
    )
    features: list[str] = Field(description="Every feature those plans grant, sorted, once")
    seats: dict[str, int] = Field(description="Plan code to total quantity")
