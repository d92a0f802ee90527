"""Command messages of the ledger: accounts, movements, holds, transactions, projects and
their API keys (handlers: ``commands.ledger``, ``commands.projects``).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field, StrictInt

from commands.limits_types import (
    Id,
    Label,
    Metadata,
    ProjectName,
    Ref,
    RefOrBlank,
    Timestamp,
)
from commands.messages.base import Amount, Command, CurrencyCode, LowBalanceThreshold, Source, Text
from domain.limits import (
    MAX_AMOUNT_MINOR,
)


class OpenAccount(Command):
    owner_ref: Ref
    currency: CurrencyCode
    overdraft_limit: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR)] = 0
    metadata: Metadata = Field(default_factory=dict)
    low_balance_threshold: LowBalanceThreshold = None


class Deposit(Command):
    account_id: UUID
    amount: Amount
    currency: CurrencyCode
    source: Source = "manual"
    pending: bool = False
    description: Text = ""
    external_ref: RefOrBlank = ""


class Withdraw(Command):
    account_id: UUID
    amount: Amount
    currency: CurrencyCode
    destination: Source = "manual"
    description: Text = ""
    external_ref: RefOrBlank = ""


class Transfer(Command):
    from_account_id: UUID
    to_account_id: UUID
    amount: Amount
    currency: CurrencyCode
    description: Text = ""


class PlaceHold(Command):
    account_id: UUID
    amount: Amount
    currency: CurrencyCode
    expires_at: Timestamp
    destination_account_id: UUID | None = None
    destination: Source = "manual"
    description: Text = ""


class CaptureHold(Command):
    account_id: UUID
    hold_id: Id
    amount: Amount | None = None


class VoidHold(Command):
    account_id: UUID
    hold_id: Id


class ExpireHolds(Command):
    account_id: UUID


class ConfirmTransaction(Command):
    transaction_id: UUID


class FailTransaction(Command):
    transaction_id: UUID
    reason: Text = ""


class ReverseTransaction(Command):
    transaction_id: UUID
    amount: Amount | None = None
    reason: Text = ""


class SetLowBalanceThreshold(Command):
    account_id: UUID
    low_balance_threshold: LowBalanceThreshold


class FreezeAccount(Command):
    account_id: UUID
    reason: Text = ""


class UnfreezeAccount(Command):
    account_id: UUID


class CloseAccount(Command):
    account_id: UUID


class CreateProject(Command):
    name: ProjectName
    mode: Annotated[str, Field(pattern="^(live|test)$")] = "live"


class IssueApiKey(Command):
    project_id: UUID
    label: Label = ""


class RevokeApiKey(Command):
    project_id: UUID
    key_id: Id
