"""Request and response models of the transfers route (``api/routes/transfers.py``)."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from api import money_rules as rules
from api.schemas.accounts import Account
from api.schemas.common import Request, Response, request_config
from api.schemas.transactions import Transaction
from commands.messages import Amount, CurrencyCode, Text


class TransferRequest(Request):
    model_config = request_config(
        [
            {
                "from_account_id": "0d5c7c2a-3c1f-5d0e-9f7a-0b1c2d3e4f50",
                "to_account_id": "5a6b7c8d-9e0f-5a1b-8c2d-3e4f5a6b7c8d",
                "amount": 700,
                "currency": "EUR",
            }
        ]
    )
    from_account_id: UUID
    to_account_id: UUID
    amount: Amount = Field(description=rules.TRANSFER)
    currency: CurrencyCode
    description: Text = ""


class TransferResult(Response):
    transaction: Transaction
    from_account: Account
    to_account: Account
