"""Request and response models for invoices, credit notes, tax rates, coupons, promotion
codes, billing settings, customer credit balances and the trial balance.

Request fields reuse the command messages' annotated types (``Amount``, ``Code``,
``InvoiceLineInput``), so the API and the commands cannot disagree. Percentages are
strings (``"19"``, ``"7.5"``): a float cannot hold them exactly.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StrictInt

from api import money_rules as rules
from api.objects import Instant, created_field
from api.schemas.billing_setup import TAX_RATE_ID
from api.schemas.common import (
    CUSTOMER_ID,
    SUBSCRIPTION_ID,
    ApiObject,
    Collection,
    CollectionReason,
    Request,
    Response,
    request_config,
)
from api.schemas.nulls import AsRecorded, ShownNull
from commands.limits_types import Description, LineDescription
from commands.messages import InvoiceLineInput
from domain.limits import MAX_AMOUNT_MINOR, MAX_QUANTITY

INVOICE_ID = "1a2b3c4d-5e6f-5a7b-8c9d-0e1f2a3b4c5d"


Status = Literal["draft", "open", "paid", "void", "uncollectible"]


LINE_EXAMPLE: dict[str, JsonValue] = {
    "description": "Consulting, March",
    "quantity": 3,
    "unit_amount": 12000,
}


class CreateInvoiceRequest(Request):
    model_config = request_config(
        [
            {"customer_id": CUSTOMER_ID, "description": "March", "lines": [LINE_EXAMPLE]},
            {"customer_id": CUSTOMER_ID},
        ]
    )
    customer_id: UUID
    description: Description = ""
    lines: list[InvoiceLineInput] = Field(
        default_factory=list, max_length=100, description=rules.INVOICE_LINES
    )


class AddLineRequest(Request):
    model_config = request_config(
        [LINE_EXAMPLE, {**LINE_EXAMPLE, "tax_rate_ids": [TAX_RATE_ID], "discountable": False}]
    )
    description: LineDescription
    quantity: Annotated[StrictInt, Field(ge=1, le=MAX_QUANTITY)] = Field(
        default=1, description=rules.QUANTITY
    )
    unit_amount: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR)] = Field(
        description="Minor units per unit; " + rules.LINE
    )
    kind: Literal["one_time", "usage"] = "one_time"
    tax_rate_ids: list[UUID] = Field(
        default_factory=list, max_length=5, description="Active tax rates of the project"
    )
    discountable: bool = True


class InvoicePart(BaseModel):
    """A part of an invoice (a payment, a credit note, its coupon, its dunning) kept as the
    write side records it, with its times in the API's one format."""

    model_config = ConfigDict(extra="allow")
    at: Instant | None = None
    expires_at: Instant | None = None
    next_payment_attempt_at: Instant | None = None


class InvoiceLine(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    kind: str
    description: str
    quantity: int
    unit_amount: int
    amount: int = Field(
        description="quantity x unit_amount (negative for proration credits and for the "
        "`credits` line of prepaid credits applied to usage)"
    )
    discountable: bool = True
    tax_rate_ids: list[str] = Field(default_factory=list)
    discount: int = Field(default=0, description="This line's share of the coupon")
    tax: int = 0
    net: int = 0
    gross: int = Field(default=0, description="net + tax")
    period: list[Instant] | None = Field(
        default=None, description="The [start, end) a subscription line bills"
    )


class Invoice(ApiObject):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": INVOICE_ID,
                    "object": "invoice",
                    "created": "2030-01-01T09:00:00.000000Z",
                    "number": "INV-2030-000042",
                    "status": "open",
                    "customer_id": CUSTOMER_ID,
                    "subscription_id": SUBSCRIPTION_ID,
                    "currency": "EUR",
                    "subtotal": 10000,
                    "discount": 2500,
                    "tax": 1425,
                    "total": 8925,
                    "amount_due": 8925,
                    "amount_paid": 0,
                    "amount_remaining": 8925,
                    "collection": "none",
                    "collection_reason": "no_auto_charge_provider",
                }
            ]
        },
    )
    id: UUID | None = Field(description="null on an upcoming invoice (nothing is written)")
    object: Literal["invoice"] = Field(default="invoice", description="Its type")
    number: ShownNull[str] = Field(
        description="Given at finalization: <prefix>-<year>-<000001>, or "
        "<prefix>-TC-<year>-<000001> on a test clock (its own series, the clock's year)",
    )
    status: str = Field(description=" | ".join(get_args(Status)))
    customer_id: UUID
    subscription_id: ShownNull[UUID] = None
    currency: str
    description: str = ""
    period_start: ShownNull[Instant] = None
    period_end: ShownNull[Instant] = None
    lines: list[InvoiceLine] = Field(default_factory=list)
    tax_rates: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="The rates as they were when each line was added"
    )
    coupon: AsRecorded[InvoicePart | None] = None
    subtotal: int = Field(description="Sum of the lines, minor units")
    discount: int
    tax: int
    tax_by_rate: dict[str, int] = Field(default_factory=dict)
    total: int = Field(description="Net after discount plus tax")
    credit_applied: int = Field(default=0, description="Credit balance used at finalization")
    credit_granted: int = Field(default=0, description="A negative total, given as credit")
    amount_due: int
    amount_paid: int = 0
    amount_credited: int = 0
    amount_refunded: int = 0
    amount_remaining: int = 0
    payments: AsRecorded[list[InvoicePart]] = Field(default_factory=list)
    credit_notes: AsRecorded[list[InvoicePart]] = Field(default_factory=list)
    attempt_count: int = Field(default=0, description="Declined provider payment attempts")
    next_payment_attempt_at: ShownNull[Instant] = None
    dunning: AsRecorded[InvoicePart | None] = None
    finalize_at: ShownNull[Instant] = None
    finalized_at: ShownNull[Instant] = None
    paid_at: ShownNull[Instant] = None
    voided_at: ShownNull[Instant] = None
    marked_uncollectible_at: ShownNull[Instant] = None
    version: int | None = None
    collection: Collection = None
    collection_reason: CollectionReason = None
    created: Instant | None = created_field()
    created_at: Instant | None = None
    updated_at: Instant | None = None


class InvoiceResult(Response):
    invoice: Invoice
    line_id: str | None = Field(default=None, description="The line just added")
    credit_balance: int | None = Field(default=None, description="The customer's, after it")
    coupon: dict[str, Any] | None = Field(default=None, description="The coupon just applied")


class UpcomingInvoiceResult(Response):
    upcoming_invoice: Invoice | None = Field(
        description="The next invoice as it stands now; null when none will be issued"
    )
    continued: list[Invoice] = Field(
        default_factory=list,
        description="Invoices of usage lines alone that the renewal will issue beside it, "
        "when the usage lines do not all fit on it (an invoice holds at most 500 lines)",
    )
