"""Request and response models of the holds routes (``api/routes/holds.py``)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import AliasChoices, ConfigDict, Field

from api import money_rules as rules
from api.objects import Instant, created_field
from api.schemas.accounts import Account
from api.schemas.common import ApiObject, Request, Response, request_config
from api.schemas.transactions import Transaction
from commands.limits_types import TIMESTAMP_RULE, Timestamp
from commands.messages import Amount, CurrencyCode, Source, Text


class PlaceHoldRequest(Request):
    model_config = request_config(
        [{"amount": 2000, "currency": "EUR", "expires_at": "2030-01-01T00:00:00Z"}]
    )
    amount: Amount = Field(description=rules.HOLD)
    currency: CurrencyCode
    expires_at: Timestamp = Field(description=f"Released after it. {TIMESTAMP_RULE}")
    destination_account_id: UUID | None = Field(
        default=None, description="Capture pays into this account (same project, currency)"
    )
    destination: Source = Field(
        default="manual", description="Without destination_account_id: the clearing account"
    )
    description: Text = ""


class CaptureHoldRequest(Request):
    model_config = request_config([{"amount": 1500}, {}])
    amount: Amount | None = Field(
        default=None,
        description="Omitted: the whole hold. Less: the rest is released. " + rules.HOLD,
    )


class Hold(ApiObject):
    model_config = ConfigDict(
        extra="ignore",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "3f2b5c1d-8e7a-5b6c-9d0e-1f2a3b4c5d6e",
                    "object": "hold",
                    "created": "2030-01-01T09:00:00.000000Z",
                    "account_id": "0d5c7c2a-3c1f-5d0e-9f7a-0b1c2d3e4f50",
                    "amount": 2000,
                    "currency": "EUR",
                    "status": "active",
                    "captured_amount": 0,
                    "destination": "clearing:manual",
                    "expires_at": "2030-01-01T00:00:00.000000Z",
                }
            ]
        },
    )
    id: str = Field(validation_alias=AliasChoices("id", "hold_id"))
    object: Literal["hold"] = Field(default="hold", description="Its type")
    account_id: UUID
    amount: int
    currency: str
    status: str = Field(description="active | captured | voided | expired")
    captured_amount: int = 0
    destination: str = Field(description="Where a capture pays: wallet:<id> or clearing:<x>")
    expires_at: Instant
    created: Instant | None = created_field()
    created_at: Instant | None = None
    updated_at: Instant | None = None


class HoldResult(Response):
    hold: Hold
    account: Account


class CaptureResult(Response):
    hold: Hold
    transaction: Transaction
    account: Account
