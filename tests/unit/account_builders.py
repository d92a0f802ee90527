"""What the Account aggregate's unit tests share (``test_accounts``,
``test_account_holds``): a wallet with a balance, its state as one comparable value,
and a check that an action is refused with nothing recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from domain.accounts import Account
from domain.errors import DomainError
from domain.money import Money

PROJECT = UUID("00000000-0000-0000-0000-0000000000aa")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def new_account(balance: int = 0, overdraft_limit: int = 0, currency: str = "EUR") -> Account:
    account = Account.open(PROJECT, "cust-1", currency, overdraft_limit=overdraft_limit)
    if balance:
        account.deposit(Money(balance, currency), uuid4())
    return account


def state_of(account: Account) -> tuple[object, ...]:
    holds = {k: (h.amount, h.status, h.captured) for k, h in account.holds.items()}
    return (account.version, account.status, account.ledger, account.held, holds)


def refusal(account: Account, error: type[DomainError], action: object) -> DomainError:
    """Run ``action`` and check it raised ``error`` and recorded nothing."""
    before = state_of(account)
    pending = len(account._pending_events)
    with pytest.raises(error) as refused:
        action()  # type: ignore[operator]
    assert state_of(account) == before
    assert len(account._pending_events) == pending
    return refused.value
