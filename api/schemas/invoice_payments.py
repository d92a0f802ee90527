"""Request and response models for paying an invoice (``api/routes/invoice_payments.py``):
what a payment asks and what it answers (the invoice, the attempt, and the subscription
it activates or keeps going)."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from api.schemas.common import Request, Response, request_config
from api.schemas.invoices import Invoice
from api.schemas.nulls import ShownNull
from api.schemas.subscriptions import Subscription
from commands.limits_types import RefOrBlank
from commands.messages import Amount


class PayInvoiceRequest(Request):
    model_config = request_config(
        [
            {"method": "wallet"},
            {"method": "provider", "provider": "stub"},
            {"method": "out_of_band", "reference": "bank transfer 2030-03-02", "amount": 5000},
        ]
    )
    method: Literal["wallet", "provider", "out_of_band"] = Field(
        description="wallet: from the customer's wallet (or account_id); provider: charge "
        "the customer's payment method; out_of_band: record money received elsewhere"
    )
    amount: Amount | None = Field(default=None, description="Omitted: all that remains")
    account_id: UUID | None = Field(default=None, description="wallet: another wallet")
    provider: Literal["stripe", "paddle", "yookassa", "stub"] | None = Field(
        default=None,
        description="provider: the provider to charge through; default the project's own",
    )
    reference: RefOrBlank = Field(
        default="", description="out_of_band: required, your reference of the payment"
    )


class PaymentResult(Response):
    invoice: Invoice
    payment_attempt: ShownNull[dict[str, Any]] = Field(
        description="What the attempt did: `status` (succeeded, failed; pending while the "
        "provider is unavailable, processing until its webhook confirms), `succeeded`, "
        "`failure_reason`, `reference`, `provider_call_id`, `step`; null when a retry was "
        "not due"
    )
    subscription: ShownNull[Subscription] = Field(
        default=None, description="The invoice's subscription after it; null without one"
    )
