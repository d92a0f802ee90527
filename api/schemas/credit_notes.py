"""Request and response models of the credit note routes (``api/routes/credit_notes.py``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, ConfigDict, Field

from api import money_rules as rules
from api.objects import Instant, Typed
from api.schemas.common import CUSTOMER_ID, Request, Response, request_config
from api.schemas.invoices import INVOICE_ID, Invoice
from api.schemas.nulls import ShownNull
from commands.limits_types import Id
from commands.messages import Amount, Reason


class CreateCreditNoteRequest(Request):
    model_config = request_config(
        [
            {"amount": 1000, "reason": "service outage", "refund_to": "credit_balance"},
            {"refund_to": "original_payment"},
            {"amount": 500, "refund_to": "none"},
        ]
    )
    amount: Amount | None = Field(
        default=None,
        description="Omitted: all that was paid (or, refund_to none, is owed). With "
        "refund_to credit_balance: " + rules.CREDIT_BALANCE,
    )
    reason: Reason = ""
    refund_to: Literal["none", "credit_balance", "original_payment"] = Field(
        default="credit_balance",
        description="none: lower what is owed; credit_balance: the customer's credit; "
        "original_payment: back to the wallet or provider that paid",
    )
    payment_id: Id | None = Field(
        default=None, description="original_payment: which payment (default: the latest)"
    )


class CreditNote(Response, Typed):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "id": "INV-2030-000042-CN1",
                    "object": "credit_note",
                    "created": "2030-01-01T09:00:00.000000Z",
                    "invoice_id": INVOICE_ID,
                    "amount": 1000,
                    "reason": "service outage",
                    "refund_to": "credit_balance",
                    "refunded_to": f"customer_credit:{CUSTOMER_ID}",
                    "at": "2030-03-05T10:00:00.000000Z",
                }
            ]
        },
    )
    id: str = Field(description="<invoice number>-CN<n>")
    object: Literal["credit_note"] = Field(default="credit_note", description="Its type")
    amount: int
    reason: str = ""
    refund_to: str
    payment_id: ShownNull[str] = None
    refunded_to: str = Field(default="", description="The ledger account credited")
    at: Instant | None = Field(default=None, description="When it was issued")
    created: Instant | None = Field(
        default=None,
        validation_alias=AliasChoices("created", "at"),
        description="When it was issued (the same as `at`)",
    )


class CreditNoteResult(Response):
    credit_note: CreditNote
    invoice: Invoice
    credit_balance: int
    transaction: dict[str, Any] | None = Field(
        default=None, description="The wallet refund, when the paying wallet is refunded"
    )
