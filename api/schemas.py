"""Request and response models of the HTTP API (they are what OpenAPI publishes).

Request fields reuse the annotated types of the command messages, so the API and the
commands cannot disagree on what an amount or a currency is: amounts are ``StrictInt``
minor units greater than zero (``12.5`` and ``"1250"`` are refused, not coerced) and
currencies are checked against ISO 4217.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, JsonValue, StrictInt

from api import money_rules as rules
from api.objects import Instant, Typed, created_field
from commands.limits_types import TIMESTAMP_RULE, Metadata, Ref, RefOrBlank, Timestamp
from commands.messages import Amount, CurrencyCode, Source, Text
from domain.limits import MAX_AMOUNT_MINOR

T = TypeVar("T")

ExternalRef = Annotated[RefOrBlank, Field(description="Your reference, e.g. a PSP id")]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Response(BaseModel):
    # Read models may carry more fields than the ones documented here; they pass through.
    model_config = ConfigDict(extra="allow", populate_by_name=True)


# -- requests ------------------------------------------------------------------------------


def request_config(examples: list[JsonValue]) -> ConfigDict:
    """Requests refuse unknown fields (a typo must not be silently ignored)."""
    return ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": examples})


class OpenAccountRequest(Request):
    model_config = request_config(
        [{"owner_ref": "customer_42", "currency": "EUR", "overdraft_limit": 0}]
    )
    owner_ref: Annotated[Ref, Field(description="Your id for the account owner")]
    currency: CurrencyCode
    overdraft_limit: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR)] = 0
    metadata: Metadata = Field(default_factory=dict)


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


class FreezeRequest(Request):
    model_config = request_config([{"reason": "chargeback"}])
    reason: Text = ""


class FailRequest(Request):
    model_config = request_config([{"reason": "card declined"}])
    reason: Text = ""


class ReverseRequest(Request):
    model_config = request_config([{"amount": 200, "reason": "partial refund"}, {}])
    amount: Amount | None = Field(
        default=None, description="Omitted: all that is left. " + rules.REVERSAL
    )
    reason: Text = ""


# -- resources -----------------------------------------------------------------------------


class Resource(BaseModel):
    # Only documented fields leave the API, whichever side (command result or read model)
    # the data came from; read-model bookkeeping such as ``position`` stays inside.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ApiObject(Resource, Typed):
    """An object of the API (docs/api.md): it has ``id``, ``object`` and ``created``."""


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
    metadata: dict[str, str] = Field(default_factory=dict)
    version: int | None = Field(default=None, description="Events recorded on the account")
    created: Instant | None = created_field()
    created_at: Instant | None = None
    updated_at: Instant | None = None


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


# -- write responses -----------------------------------------------------------------------


class AccountResult(Response):
    account: Account


class MovementResult(Response):
    transaction: Transaction
    account: Account


class TransferResult(Response):
    transaction: Transaction
    from_account: Account
    to_account: Account


class HoldResult(Response):
    hold: Hold
    account: Account


class CaptureResult(Response):
    hold: Hold
    transaction: Transaction
    account: Account


class TransactionResult(Response):
    transaction: Transaction
    account: Account | None = None


class ReverseResult(Response):
    transaction: Transaction
    accounts: list[Account]


# -- lists, health, problems ---------------------------------------------------------------


class Page(BaseModel, Generic[T]):
    object: Literal["list"] = Field(default="list", description="Its type: a page of a list")
    data: list[T]
    has_more: bool = Field(
        description="More items follow the last one; pass its id as starting_after to get them"
    )


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class StalledReadModel(BaseModel):
    """A read model stopped on an event it cannot apply (docs/operations.md, runbook)."""

    name: str = Field(description="The read model, e.g. invoices")
    position: int = Field(
        description="Notification id of the event it cannot apply; it holds every event before"
    )
    error: str = Field(
        description="Why, in one line: the error's class and message, or the read model it "
        "waits for"
    )
    blocked_by: str | None = Field(
        description="The stalled read model whose rows this one reads, if it only waits for it"
    )
    since: Instant = Field(description="When it stopped at this position")


class Readiness(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "not_ready",
                    "database": "ok",
                    "head_position": 1207,
                    "projection_position": 1207,
                    "lag": 0,
                    "stalled": [
                        {
                            "name": "catalog",
                            "position": 1180,
                            "error": "UntranslatableCharacter: unsupported Unicode escape sequence",
                            "blocked_by": None,
                            "since": "2026-01-05T10:00:00Z",
                        }
                    ],
                }
            ]
        }
    )
    status: str = Field(
        description="ready | not_ready (database unreachable, a read model stalled, or the "
        "read models too far behind)"
    )
    database: str = Field(description="ok | unreachable")
    head_position: int | None = Field(description="Newest event in the log")
    projection_position: int | None = Field(
        description="Newest event every read model that is not stalled holds"
    )
    lag: int | None = Field(description="Events the read models that are not stalled are behind")
    stalled: list[StalledReadModel] = Field(
        default_factory=list,
        description="Read models stopped on an event they cannot apply: any makes it not_ready",
    )


class FieldError(BaseModel):
    field: str
    location: str
    message: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:tally:problem:insufficient_funds",
                    "title": "Insufficient funds",
                    "status": 422,
                    "detail": "account 0d5c... has 100 available; 300 was asked for",
                    "code": "insufficient_funds",
                    "instance": "/v1/accounts/0d5c.../withdrawals",
                    "available": 100,
                    "requested": 300,
                }
            ]
        },
    )
    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    errors: list[FieldError] | None = None


JsonDict = dict[str, Any]
