"""The payment object (``api/routes/payments.py``): one payment a customer made, or was
asked to make, as the ``payment_objects`` read model holds it. Integration events
(``billing.payment.*``) carry the same object."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import ConfigDict, Field, JsonValue

from api.objects import Instant, created_field
from api.schemas.common import CUSTOMER_ID, ApiObject

Status = Literal["pending", "processing", "succeeded", "failed", "partially_refunded", "refunded"]
Method = Literal["provider", "wallet", "out_of_band"]

PAYMENT_EXAMPLE: dict[str, JsonValue] = {
    "id": "3c9d2e1f-0a4b-4c5d-8e6f-7a8b9c0d1e2f",
    "object": "payment",
    "created": "2030-01-01T09:00:00.000000Z",
    "customer_id": CUSTOMER_ID,
    "invoice_id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
    "transaction_id": "7b0a4b8e-0c55-5c43-a1f2-6a9b1f1b2c3d",
    "method": "provider",
    "amount": 1250,
    "amount_refunded": 250,
    "currency": "EUR",
    "status": "partially_refunded",
    "provider": "stripe",
    "reference": "pi_3Nx",
    "failure_code": None,
    "failure_message": None,
    "created_at": "2030-01-01T09:00:00.000000Z",
    "updated_at": "2030-01-02T10:00:00.000000Z",
}


class Payment(ApiObject):
    model_config = ConfigDict(
        extra="ignore", populate_by_name=True, json_schema_extra={"examples": [PAYMENT_EXAMPLE]}
    )
    id: UUID = Field(
        description="A provider charge's or hosted checkout's id is its provider call's "
        "(GET /v1/provider_calls/{id}); a payment an invoice recorded otherwise has an id "
        "derived from the invoice and the payment's place on it"
    )
    object: Literal["payment"] = Field(default="payment", description="Its type")
    customer_id: UUID | None = Field(
        default=None,
        description="Null only for a wallet top-up of no customer's wallet, or a checkout "
        "sale to no customer",
    )
    invoice_id: UUID | None = Field(
        default=None, description="The invoice it pays; null for a checkout's sale or top-up"
    )
    transaction_id: UUID | None = Field(
        default=None, description="Its ledger transaction, if it has one (not out of band)"
    )
    method: Method = Field(
        description="provider: charged or collected by a payment provider; wallet: from the "
        "customer's wallet; out_of_band: recorded with its reference (a bank transfer...)"
    )
    amount: int = Field(description="Minor units of its currency")
    amount_refunded: int = Field(description="How much of it was given back, minor units")
    currency: str
    status: Status = Field(
        description="pending (asked for, not settled: a charge not answered, a checkout not "
        "paid yet), processing (the provider took it and confirms later), succeeded, "
        "failed, partially_refunded or refunded"
    )
    provider: str | None = Field(default=None, description="The provider, for method provider")
    reference: str | None = Field(
        default=None,
        description="The provider's id of the payment once known; the caller's reference for "
        "an out-of-band or wallet payment",
    )
    failure_code: str | None = Field(default=None, description="Why it failed (card_declined...)")
    failure_message: str | None = Field(default=None, description="The failure in words")
    created: Instant | None = created_field()
    created_at: Instant | None = None
    updated_at: Instant | None = None
