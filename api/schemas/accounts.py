"""Request and response models of the accounts routes (``api/routes/accounts.py``)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, StrictInt

from api import money_rules as rules
from api.objects import Instant, created_field
from api.schemas.common import ApiObject, Request, Response, request_config
from commands.limits_types import Metadata, Ref, RefOrBlank
from commands.messages import Amount, CurrencyCode, LowBalanceThreshold, Source, Text
from domain.limits import MAX_AMOUNT_MINOR

ExternalRef = Annotated[RefOrBlank, Field(description="Your reference, e.g. a PSP id")]


class OpenAccountRequest(Request):
    model_config = request_config(
        [{"owner_ref": "customer_42", "currency": "EUR", "overdraft_limit": 0}]
    )
    owner_ref: Annotated[Ref, Field(description="Your id for the account owner")]
    currency: CurrencyCode
    overdraft_limit: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR)] = 0
    metadata: Metadata = Field(default_factory=dict)
    low_balance_threshold: LowBalanceThreshold = None


class LowBalanceThresholdRequest(Request):
    model_config = request_config([{"low_balance_threshold": 500}, {"low_balance_threshold": None}])
    low_balance_threshold: LowBalanceThreshold


class DepositRequest(Request):
    model_config = request_config(
        [
            {"amount": 1250, "currency": "EUR", "source": "stripe"},
            {"amount": 5000, "currency": "EUR", "source": "stripe", "pending": True},
        ]
    )
    amount: Amount = Field(description=rules.BALANCE)
    currency: CurrencyCode
    source: Source = "manual"
    pending: bool = Field(
        default=False,
        description="True when an outside payment funds it: the account is credited on "
        "POST /v1/transactions/{id}/confirm, never on /fail.",
    )
    description: Text = ""
    external_ref: ExternalRef = ""


class WithdrawalRequest(Request):
    model_config = request_config([{"amount": 300, "currency": "EUR", "destination": "bank"}])
    amount: Amount
    currency: CurrencyCode
    destination: Source = "manual"
    description: Text = ""
    external_ref: ExternalRef = ""


class FreezeRequest(Request):
    model_config = request_config([{"reason": "chargeback"}])
    reason: Text = ""


class Account(ApiObject):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": "0d5c7c2a-3c1f-5d0e-9f7a-0b1c2d3e4f50",
                    "object": "account",
                    "created": "2030-01-01T09:00:00.000000Z",
                    "owner_ref": "customer_42",
                    "currency": "EUR",
                    "status": "open",
                    "ledger_balance": 1250,
                    "held_balance": 200,
                    "available_balance": 1050,
                    "overdraft_limit": 0,
                    "low_balance_threshold": 500,
                    "metadata": {},
                    "version": 4,
                }
            ]
        },
    )
    id: UUID
    object: Literal["account"] = Field(default="account", description="Its type")
    owner_ref: str
    currency: str
    status: str = Field(description="open | frozen | closed")
    ledger_balance: int = Field(description="Every posted movement, minor units")
    held_balance: int = Field(description="Sum of active holds")
    available_balance: int = Field(description="ledger_balance - held_balance")
    overdraft_limit: int
    low_balance_threshold: int | None = Field(
        default=None, description="Below it, billing.wallet.balance_low fires; null: none"
    )
    metadata: dict[str, str] = Field(default_factory=dict)
    version: int | None = Field(default=None, description="Events recorded on the account")
    created: Instant | None = created_field()
    created_at: Instant | None = None
    updated_at: Instant | None = None


class AccountResult(Response):
    account: Account
