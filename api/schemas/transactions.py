"""Request and response models of the transactions routes, and the transaction object
with the answers that pair it with accounts (``api/routes/transactions.py``)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import AliasChoices, ConfigDict, Field

from api import money_rules as rules
from api.objects import Instant, created_field
from api.schemas.accounts import Account
from api.schemas.common import ApiObject, Request, Response, request_config
from commands.messages import Amount, Text


class FailRequest(Request):
    model_config = request_config([{"reason": "card declined"}])
    reason: Text = ""


class ReverseRequest(Request):
    model_config = request_config([{"amount": 200, "reason": "partial refund"}, {}])
    amount: Amount | None = Field(
        default=None, description="Omitted: all that is left. " + rules.REVERSAL
    )
    reason: Text = ""


class Transaction(ApiObject):
    model_config = ConfigDict(
        extra="ignore",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "7b0a4b8e-0c55-5c43-a1f2-6a9b1f1b2c3d",
                    "object": "transaction",
                    "created": "2030-01-01T09:00:00.000000Z",
                    "kind": "deposit",
                    "state": "completed",
                    "amount": 1250,
                    "currency": "EUR",
                    "from": "clearing:stripe",
                    "to": "wallet:0d5c7c2a-3c1f-5d0e-9f7a-0b1c2d3e4f50",
                    "reversed_amount": 0,
                    "description": "",
                    "external_ref": "pi_123",
                    "failure_reason": "",
                }
            ]
        },
    )
    id: UUID
    object: Literal["transaction"] = Field(default="transaction", description="Its type")
    kind: str = Field(description="deposit | withdrawal | transfer | capture")
    state: str = Field(description="processing | completed | failed | reversed")
    amount: int
    currency: str
    from_: str = Field(
        validation_alias=AliasChoices("from", "from_ref"),
        serialization_alias="from",
        description="Account the money leaves (wallet:<id> or clearing:<source>)",
    )
    to: str = Field(
        validation_alias=AliasChoices("to", "to_ref"),
        description="Account the money reaches",
    )
    reversed_amount: int = 0
    description: str = ""
    external_ref: str = ""
    failure_reason: str = ""
    created: Instant | None = created_field()
    created_at: Instant | None = None
    updated_at: Instant | None = None


class MovementResult(Response):
    transaction: Transaction
    account: Account


class TransactionResult(Response):
    transaction: Transaction
    account: Account | None = None


class ReverseResult(Response):
    transaction: Transaction
    accounts: list[Account]
