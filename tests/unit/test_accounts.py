"""The Account aggregate: guarded balance, lifecycle, money in another currency. No I/O.
Holds: ``test_account_holds``."""

from __future__ import annotations

from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.accounts import CLOSED, FROZEN, OPEN, Account, wallet_ref
from domain.errors import (
    AccountClosed,
    AccountFrozen,
    AccountNotEmpty,
    CurrencyMismatch,
    InsufficientFunds,
    InvalidAmount,
    InvalidTransition,
    UnknownCurrency,
    ValidationFailed,
)
from domain.money import Money
from tests.unit.account_builders import LATER, NOW, PROJECT, new_account, refusal

# -- opening -------------------------------------------------------------------------


def test_open_account_starts_empty_and_open() -> None:
    account = Account.open(PROJECT, "cust-1", "JPY", overdraft_limit=500, metadata={"a": "b"})
    assert (account.status, account.ledger, account.held, account.available) == (OPEN, 0, 0, 0)
    assert account.floor == -500
    assert account.metadata == {"a": "b"}
    assert account.ref == wallet_ref(account.id) == f"wallet:{account.id}"
    assert type(account._pending_events[0]).__qualname__ == "Account.Opened"


def test_account_id_is_deterministic_per_project_owner_and_currency() -> None:
    one = Account.create_id(PROJECT, "cust-1", "EUR")
    assert one == Account.create_id(PROJECT, "cust-1", "EUR")
    assert one != Account.create_id(PROJECT, "cust-1", "USD")
    assert one != Account.create_id(PROJECT, "cust-2", "EUR")
    assert one != Account.create_id(uuid4(), "cust-1", "EUR")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"currency": "XAU"}, UnknownCurrency),
        ({"currency": "eur"}, UnknownCurrency),
        ({"overdraft_limit": -1}, InvalidAmount),
        ({"overdraft_limit": 1.5}, InvalidAmount),
        ({"owner_ref": ""}, ValidationFailed),
        ({"owner_ref": "x" * 201}, ValidationFailed),
    ],
)
def test_open_refuses_bad_arguments(kwargs: dict[str, object], error: type[Exception]) -> None:
    args: dict[str, object] = {"owner_ref": "cust-1", "currency": "EUR", "overdraft_limit": 0}
    args.update(kwargs)
    with pytest.raises(error):
        Account.open(PROJECT, **args)  # type: ignore[arg-type]


# -- movements -----------------------------------------------------------------------


def test_deposit_and_withdraw_move_the_ledger() -> None:
    account = new_account(1000)
    account.withdraw(Money(300, "EUR"), uuid4())
    assert (account.ledger, account.available) == (700, 700)


def test_withdraw_of_whole_balance_leaves_zero() -> None:
    account = new_account(1000)
    account.withdraw(Money(1000, "EUR"), uuid4())
    assert account.available == 0


def test_withdraw_beyond_balance_is_refused_and_records_nothing() -> None:
    account = new_account(1000)
    error = refusal(
        account, InsufficientFunds, lambda: account.withdraw(Money(1001, "EUR"), uuid4())
    )
    assert error.context == {"available": 1000, "requested": 1001}


def test_overdraft_limit_is_the_floor() -> None:
    account = new_account(100, overdraft_limit=50)
    account.withdraw(Money(150, "EUR"), uuid4())
    assert account.available == -50
    refusal(account, InsufficientFunds, lambda: account.withdraw(Money(1, "EUR"), uuid4()))


@pytest.mark.parametrize("amount", [0, -5, 2.5, True])
def test_movements_refuse_non_positive_or_non_integer_amounts(amount: object) -> None:
    account = new_account(100)
    for move in (account.deposit, account.withdraw, account.transfer_in, account.transfer_out):
        refusal(account, InvalidAmount, lambda move=move: move(Money(amount, "EUR"), uuid4()))  # type: ignore[arg-type]


def test_movements_in_another_currency_are_refused() -> None:
    account = new_account(100)
    for move in (account.deposit, account.withdraw, account.transfer_in, account.transfer_out):
        refusal(account, CurrencyMismatch, lambda move=move: move(Money(10, "USD"), uuid4()))


def test_transfer_out_and_in_move_the_ledger() -> None:
    source, target = new_account(500), new_account()
    txn = uuid4()
    source.transfer_out(Money(200, "EUR"), txn)
    target.transfer_in(Money(200, "EUR"), txn)
    assert (source.ledger, target.ledger) == (300, 200)
    refusal(source, InsufficientFunds, lambda: source.transfer_out(Money(301, "EUR"), uuid4()))


def test_reversal_posting_takes_money_out_only_within_the_floor() -> None:
    account = new_account(100)
    account.post_reversal(Money(-60, "EUR"), uuid4())
    account.post_reversal(Money(25, "EUR"), uuid4())
    assert account.ledger == 65
    refusal(account, InsufficientFunds, lambda: account.post_reversal(Money(-66, "EUR"), uuid4()))


# -- frozen and closed ---------------------------------------------------------------


def test_frozen_account_refuses_every_movement_but_keeps_its_balance() -> None:
    account = new_account(500)
    account.freeze("chargeback")
    assert account.status == FROZEN
    refusal(account, AccountFrozen, lambda: account.deposit(Money(1, "EUR"), uuid4()))
    refusal(account, AccountFrozen, lambda: account.withdraw(Money(1, "EUR"), uuid4()))
    refusal(account, AccountFrozen, lambda: account.transfer_in(Money(1, "EUR"), uuid4()))
    refusal(account, AccountFrozen, lambda: account.transfer_out(Money(1, "EUR"), uuid4()))
    refusal(
        account, AccountFrozen, lambda: account.place_hold("h", Money(1, "EUR"), LATER, "x", NOW)
    )
    assert account.ledger == 500


def test_frozen_account_still_receives_a_confirmed_deposit() -> None:
    account = new_account(0)
    account.freeze("review")
    account.credit_confirmed_deposit(Money(70, "EUR"), uuid4())
    assert account.ledger == 70


def test_freeze_twice_and_unfreeze_when_open_are_refused() -> None:
    account = new_account()
    refusal(account, InvalidTransition, account.unfreeze)
    account.freeze("r")
    refusal(account, InvalidTransition, lambda: account.freeze("again"))
    account.unfreeze()
    assert account.status == OPEN
    account.deposit(Money(5, "EUR"), uuid4())
    assert account.ledger == 5


def test_close_only_at_zero() -> None:
    account = new_account(10)
    error = refusal(account, AccountNotEmpty, account.close)
    assert error.context == {"ledger": 10, "held": 0}
    account.withdraw(Money(10, "EUR"), uuid4())
    account.close()
    assert account.status == CLOSED


def test_close_refused_while_overdrawn_or_holding() -> None:
    overdrawn = new_account(0, overdraft_limit=100)
    overdrawn.withdraw(Money(40, "EUR"), uuid4())
    refusal(overdrawn, AccountNotEmpty, overdrawn.close)
    # An active hold on an account whose ledger is zero (the hold uses the overdraft).
    holding = new_account(0, overdraft_limit=100)
    holding.place_hold("h1", Money(100, "EUR"), LATER, "clearing:x", NOW)
    error = refusal(holding, AccountNotEmpty, holding.close)
    assert error.context == {"ledger": 0, "held": 100}
    holding.void_hold("h1")
    holding.close()
    assert holding.status == CLOSED


def test_closed_account_refuses_everything() -> None:
    account = new_account()
    account.close()
    refusal(account, AccountClosed, lambda: account.deposit(Money(1, "EUR"), uuid4()))
    refusal(
        account, AccountClosed, lambda: account.credit_confirmed_deposit(Money(1, "EUR"), uuid4())
    )
    refusal(account, AccountClosed, lambda: account.post_reversal(Money(1, "EUR"), uuid4()))
    refusal(account, AccountClosed, lambda: account.freeze("r"))
    refusal(account, AccountClosed, account.close)
    refusal(account, InvalidTransition, account.unfreeze)


def test_frozen_account_at_zero_can_be_closed() -> None:
    account = new_account()
    account.freeze("offboarding")
    account.close()
    assert account.status == CLOSED


# -- money in another currency -------------------------------------------------------

OTHER_CURRENCIES = st.sampled_from(["USD", "JPY", "BHD", "GBP", "CHF"])


@given(amount=st.integers(1, 10**12), currency=OTHER_CURRENCIES)
def test_money_in_another_currency_is_refused_with_nothing_recorded(
    amount: int, currency: str
) -> None:
    account = new_account(10**12 + 1)
    other = Money(amount, currency)
    for move in (account.deposit, account.withdraw, account.transfer_in, account.transfer_out):
        error = refusal(account, CurrencyMismatch, lambda move=move: move(other, uuid4()))
        assert error.context == {"account_currency": "EUR", "currency": currency}
    refusal(
        account,
        CurrencyMismatch,
        lambda: account.place_hold("h", other, LATER, "clearing:x", NOW),
    )
    # These have no currency check of their own: the sum taken in Money refuses it.
    refusal(account, CurrencyMismatch, lambda: account.credit_confirmed_deposit(other, uuid4()))
    refusal(account, CurrencyMismatch, lambda: account.post_reversal(other, uuid4()))
    refusal(account, CurrencyMismatch, lambda: account.post_reversal(-other, uuid4()))


def test_a_capture_answers_money_in_the_account_currency() -> None:
    account = new_account(500, currency="JPY")
    account.place_hold("h1", Money(300, "JPY"), LATER, "clearing:card", NOW)
    assert account.capture_hold("h1", 200, uuid4(), NOW) == Money(200, "JPY")
