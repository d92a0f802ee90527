"""Request and response models of ``POST /v1/credit_purchases``
(``api/routes/credit_purchases.py``): paid credits bought on an invoice."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from api.schemas.common import Request, Resource, request_config
from api.schemas.credits import CUSTOMER_ID
from api.schemas.invoices import Invoice
from commands.credit_messages import GrantPrices, Priority
from commands.messages.base import Amount, CurrencyCode, Text


class PurchaseCreditsRequest(Request):
    model_config = request_config([{"customer_id": CUSTOMER_ID, "amount": 10000, "priority": 5}])
    customer_id: UUID
    amount: Amount = Field(description="The credits bought, and the invoice's one line")
    currency: CurrencyCode | None = Field(
        default=None, description="Must be the customer's (the invoice is in it); default: it"
    )
    priority: Priority = 0
    prices: GrantPrices | None = None
    description: Text = ""


class CreditPurchase(Resource):
    object: Literal["credit_purchase"] = "credit_purchase"
    invoice_id: str = Field(description="The invoice that sells the credits")
    grant_id: str = Field(description="The id the paid grant has (`GET /v1/credit_grants`)")
    customer_id: UUID
    currency: str
    amount: int
    priority: int
    prices: list[str] | None = None
    description: str
    status: Literal["invoiced", "granted", "canceled"] = Field(
        description="`invoiced`: waiting for the invoice's payment; `granted`: paid, "
        "credits granted (once); `canceled`: the invoice was voided, nothing granted"
    )
    invoice: Invoice
