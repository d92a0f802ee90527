"""Response models of the journal routes (``api/routes/journal.py``)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from api.objects import Instant, created_field
from api.schemas.common import ApiObject, Resource


class Posting(BaseModel):
    account: str = Field(description="wallet:<id>, clearing:<source>, ...")
    amount: int = Field(description="Signed minor units: positive raises the balance")


class Entry(ApiObject):
    """One balanced journal entry touching the account: its postings sum to zero."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": "1c9e4f0a-5b7d-5e2a-9c3b-4d5e6f708192",
                    "object": "journal_entry",
                    "created": "2030-01-01T09:00:00.000000Z",
                    "transaction_id": "7b0a4b8e-0c55-5c43-a1f2-6a9b1f1b2c3d",
                    "kind": "deposit",
                    "currency": "EUR",
                    "amount": 1250,
                    "postings": [
                        {"account": "wallet:0d5c7c2a-3c1f-5d0e-9f7a-0b1c2d3e4f50", "amount": 1250},
                        {"account": "clearing:stripe", "amount": -1250},
                    ],
                }
            ]
        },
    )
    id: UUID
    object: Literal["journal_entry"] = Field(default="journal_entry", description="Its type")
    transaction_id: UUID
    kind: str = Field(description="What posted it: deposit, transfer, reversal, ...")
    currency: str
    amount: int = Field(description="This account's side of the entry, signed")
    postings: list[Posting]
    created: Instant | None = created_field()
    created_at: Instant | None = None


class SystemAccount(Resource):
    """An account derived by projection only (clearing, revenue), never a write hot spot."""

    account: str = Field(examples=["clearing:stripe"])
    currency: str
    balance: int = Field(description="Signed minor units")
