"""The Account aggregate: guarded balance, holds, lifecycle. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.accounts import CLOSED, FROZEN, OPEN, Account, wallet_ref
from domain.errors import (
    AccountClosed,
    AccountFrozen,
    AccountNotEmpty,
    CaptureExceedsHold,
    CurrencyMismatch,
    DomainError,
    HoldExpired,
    HoldNotActive,
    InsufficientFunds,
    InvalidAmount,
    InvalidTransition,
    NotFound,
    UnknownCurrency,
    ValidationFailed,
)
from domain.money import Money

PROJECT = UUID("00000000-0000-0000-0000-0000000000aa")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def _account(balance: int = 0, overdraft_limit: int = 0, currency: str = "EUR") -> Account:
    account = Account.open(PROJECT, "cust-1", currency, overdraft_limit=overdraft_limit)
    if balance:
        account.deposit(Money(balance, currency), uuid4())
    return account


def _state(account: Account) -> tuple[object, ...]:
    holds = {k: (h.amount, h.status, h.captured) for k, h in account.holds.items()}
    return (account.version, account.status, account.ledger, account.held, holds)


def _refused(account: Account, error: type[DomainError], action: object) -> DomainError:
    """Run ``action`` and check it raised ``error`` and recorded nothing."""
    before = _state(account)
    pending = len(account._pending_events)
    with pytest.raises(error) as refused:
        action()  # type: ignore[operator]
    assert _state(account) == before
    assert len(account._pending_events) == pending
    return refused.value


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
    account = _account(1000)
    account.withdraw(Money(300, "EUR"), uuid4())
    assert (account.ledger, account.available) == (700, 700)


def test_withdraw_of_whole_balance_leaves_zero() -> None:
    account = _account(1000)
    account.withdraw(Money(1000, "EUR"), uuid4())
    assert account.available == 0


def test_withdraw_beyond_balance_is_refused_and_records_nothing() -> None:
    account = _account(1000)
    error = _refused(
        account, InsufficientFunds, lambda: account.withdraw(Money(1001, "EUR"), uuid4())
    )
    assert error.context == {"available": 1000, "requested": 1001}


def test_overdraft_limit_is_the_floor() -> None:
    account = _account(100, overdraft_limit=50)
    account.withdraw(Money(150, "EUR"), uuid4())
    assert account.available == -50
    _refused(account, InsufficientFunds, lambda: account.withdraw(Money(1, "EUR"), uuid4()))


@pytest.mark.parametrize("amount", [0, -5, 2.5, True])
def test_movements_refuse_non_positive_or_non_integer_amounts(amount: object) -> None:
    account = _account(100)
    for move in (account.deposit, account.withdraw, account.transfer_in, account.transfer_out):
        _refused(account, InvalidAmount, lambda move=move: move(Money(amount, "EUR"), uuid4()))  # type: ignore[arg-type]


def test_movements_in_another_currency_are_refused() -> None:
    account = _account(100)
    for move in (account.deposit, account.withdraw, account.transfer_in, account.transfer_out):
        _refused(account, CurrencyMismatch, lambda move=move: move(Money(10, "USD"), uuid4()))


def test_transfer_out_and_in_move_the_ledger() -> None:
    source, target = _account(500), _account()
    txn = uuid4()
    source.transfer_out(Money(200, "EUR"), txn)
    target.transfer_in(Money(200, "EUR"), txn)
    assert (source.ledger, target.ledger) == (300, 200)
    _refused(source, InsufficientFunds, lambda: source.transfer_out(Money(301, "EUR"), uuid4()))


def test_reversal_posting_takes_money_out_only_within_the_floor() -> None:
    account = _account(100)
    account.post_reversal(Money(-60, "EUR"), uuid4())
    account.post_reversal(Money(25, "EUR"), uuid4())
    assert account.ledger == 65
    _refused(account, InsufficientFunds, lambda: account.post_reversal(Money(-66, "EUR"), uuid4()))


# -- frozen and closed ---------------------------------------------------------------


def test_frozen_account_refuses_every_movement_but_keeps_its_balance() -> None:
    account = _account(500)
    account.freeze("chargeback")
    assert account.status == FROZEN
    _refused(account, AccountFrozen, lambda: account.deposit(Money(1, "EUR"), uuid4()))
    _refused(account, AccountFrozen, lambda: account.withdraw(Money(1, "EUR"), uuid4()))
    _refused(account, AccountFrozen, lambda: account.transfer_in(Money(1, "EUR"), uuid4()))
    _refused(account, AccountFrozen, lambda: account.transfer_out(Money(1, "EUR"), uuid4()))
    _refused(
        account, AccountFrozen, lambda: account.place_hold("h", Money(1, "EUR"), LATER, "x", NOW)
    )
    assert account.ledger == 500


def test_frozen_account_still_receives_a_confirmed_deposit() -> None:
    account = _account(0)
    account.freeze("review")
    account.credit_confirmed_deposit(Money(70, "EUR"), uuid4())
    assert account.ledger == 70


def test_freeze_twice_and_unfreeze_when_open_are_refused() -> None:
    account = _account()
    _refused(account, InvalidTransition, account.unfreeze)
    account.freeze("r")
    _refused(account, InvalidTransition, lambda: account.freeze("again"))
    account.unfreeze()
    assert account.status == OPEN
    account.deposit(Money(5, "EUR"), uuid4())
    assert account.ledger == 5


def test_close_only_at_zero() -> None:
    account = _account(10)
    error = _refused(account, AccountNotEmpty, account.close)
    assert error.context == {"ledger": 10, "held": 0}
    account.withdraw(Money(10, "EUR"), uuid4())
    account.close()
    assert account.status == CLOSED


def test_close_refused_while_overdrawn_or_holding() -> None:
    overdrawn = _account(0, overdraft_limit=100)
    overdrawn.withdraw(Money(40, "EUR"), uuid4())
    _refused(overdrawn, AccountNotEmpty, overdrawn.close)
    # An active hold on an account whose ledger is zero (the hold uses the overdraft).
    holding = _account(0, overdraft_limit=100)
    holding.place_hold("h1", Money(100, "EUR"), LATER, "clearing:x", NOW)
    error = _refused(holding, AccountNotEmpty, holding.close)
    assert error.context == {"ledger": 0, "held": 100}
    holding.void_hold("h1")
    holding.close()
    assert holding.status == CLOSED


def test_closed_account_refuses_everything() -> None:
    account = _account()
    account.close()
    _refused(account, AccountClosed, lambda: account.deposit(Money(1, "EUR"), uuid4()))
    _refused(
        account, AccountClosed, lambda: account.credit_confirmed_deposit(Money(1, "EUR"), uuid4())
    )
    _refused(account, AccountClosed, lambda: account.post_reversal(Money(1, "EUR"), uuid4()))
    _refused(account, AccountClosed, lambda: account.freeze("r"))
    _refused(account, AccountClosed, account.close)
    _refused(account, InvalidTransition, account.unfreeze)


def test_frozen_account_at_zero_can_be_closed() -> None:
    account = _account()
    account.freeze("offboarding")
    account.close()
    assert account.status == CLOSED


# -- holds ---------------------------------------------------------------------------


def test_hold_reserves_available_but_not_ledger() -> None:
    account = _account(1000)
    account.place_hold("h1", Money(300, "EUR"), LATER, "clearing:card", NOW)
    assert (account.ledger, account.held, account.available) == (1000, 300, 700)
    _refused(account, InsufficientFunds, lambda: account.withdraw(Money(701, "EUR"), uuid4()))
    _refused(
        account,
        InsufficientFunds,
        lambda: account.place_hold("h2", Money(701, "EUR"), LATER, "clearing:card", NOW),
    )


def test_hold_may_use_the_overdraft() -> None:
    account = _account(0, overdraft_limit=100)
    account.place_hold("h1", Money(100, "EUR"), LATER, "clearing:card", NOW)
    assert account.available == -100


def test_hold_must_expire_in_the_future_and_have_a_new_id() -> None:
    account = _account(1000)
    _refused(
        account,
        ValidationFailed,
        lambda: account.place_hold("h1", Money(1, "EUR"), NOW, "clearing:x", NOW),
    )
    account.place_hold("h1", Money(1, "EUR"), LATER, "clearing:x", NOW)
    _refused(
        account,
        HoldNotActive,
        lambda: account.place_hold("h1", Money(1, "EUR"), LATER, "clearing:x", NOW),
    )


def test_full_capture_moves_the_whole_hold_out() -> None:
    account = _account(1000)
    account.place_hold("h1", Money(300, "EUR"), LATER, "clearing:card", NOW)
    assert account.capture_hold("h1", None, uuid4(), NOW) == Money(300, "EUR")
    hold = account.holds["h1"]
    assert (hold.status, hold.captured) == ("captured", 300)
    assert (account.ledger, account.held, account.available) == (700, 0, 700)


def test_partial_capture_releases_the_rest() -> None:
    account = _account(1000)
    account.place_hold("h1", Money(300, "EUR"), LATER, "clearing:card", NOW)
    assert account.capture_hold("h1", 120, uuid4(), NOW) == Money(120, "EUR")
    assert (account.ledger, account.held, account.available) == (880, 0, 880)
    assert account.holds["h1"].captured == 120
    _refused(account, HoldNotActive, lambda: account.capture_hold("h1", 1, uuid4(), NOW))


def test_capture_above_the_hold_is_refused() -> None:
    account = _account(1000)
    account.place_hold("h1", Money(300, "EUR"), LATER, "clearing:card", NOW)
    error = _refused(
        account, CaptureExceedsHold, lambda: account.capture_hold("h1", 301, uuid4(), NOW)
    )
    assert error.context == {"hold_amount": 300, "requested": 301}


def test_capture_checks_expiry_at_capture_time() -> None:
    account = _account(1000)
    account.place_hold("h1", Money(300, "EUR"), LATER, "clearing:card", NOW)
    _refused(account, HoldExpired, lambda: account.capture_hold("h1", None, uuid4(), LATER))
    account.capture_hold("h1", None, uuid4(), LATER - timedelta(microseconds=1))
    assert account.ledger == 700


def test_capture_of_unknown_hold_is_not_found() -> None:
    account = _account(1000)
    _refused(account, NotFound, lambda: account.capture_hold("nope", None, uuid4(), NOW))
    _refused(account, NotFound, lambda: account.void_hold("nope"))


def test_capture_on_a_frozen_account_is_refused() -> None:
    account = _account(1000)
    account.place_hold("h1", Money(300, "EUR"), LATER, "clearing:card", NOW)
    account.freeze("r")
    _refused(account, AccountFrozen, lambda: account.capture_hold("h1", None, uuid4(), NOW))


def test_void_releases_the_hold_and_only_once() -> None:
    account = _account(1000)
    account.place_hold("h1", Money(300, "EUR"), LATER, "clearing:card", NOW)
    account.void_hold("h1")
    assert (account.ledger, account.held, account.holds["h1"].status) == (1000, 0, "voided")
    _refused(account, HoldNotActive, lambda: account.void_hold("h1"))
    _refused(account, HoldNotActive, lambda: account.capture_hold("h1", None, uuid4(), NOW))


def test_expiry_releases_due_holds_only_and_is_repeatable() -> None:
    account = _account(1000)
    account.place_hold("soon", Money(100, "EUR"), LATER, "clearing:card", NOW)
    account.place_hold("late", Money(200, "EUR"), LATER + timedelta(days=1), "clearing:card", NOW)
    assert account.expired_holds(NOW) == []
    assert account.expire_hold("soon", NOW) is False
    assert account.expired_holds(LATER) == ["soon"]
    assert account.expire_hold("soon", LATER) is True
    version = account.version
    assert account.expire_hold("soon", LATER) is False
    assert account.expire_hold("unknown", LATER) is False
    assert account.version == version
    assert (account.held, account.holds["soon"].status) == (200, "expired")
    _refused(account, HoldNotActive, lambda: account.capture_hold("soon", None, uuid4(), NOW))


def test_summary_reports_the_three_balances() -> None:
    account = _account(1000, overdraft_limit=10)
    account.place_hold("h1", Money(300, "EUR"), LATER, "clearing:card", NOW)
    summary = account.summary()
    assert summary["ledger_balance"] == 1000
    assert summary["held_balance"] == 300
    assert summary["available_balance"] == 700
    assert summary["overdraft_limit"] == 10
    assert summary["version"] == account.version


# -- money in another currency -------------------------------------------------------

OTHER_CURRENCIES = st.sampled_from(["USD", "JPY", "BHD", "GBP", "CHF"])


@given(amount=st.integers(1, 10**12), currency=OTHER_CURRENCIES)
def test_money_in_another_currency_is_refused_with_nothing_recorded(
    amount: int, currency: str
) -> None:
    account = _account(10**12 + 1)
    other = Money(amount, currency)
    for move in (account.deposit, account.withdraw, account.transfer_in, account.transfer_out):
        error = _refused(account, CurrencyMismatch, lambda move=move: move(other, uuid4()))
        assert error.context == {"account_currency": "EUR", "currency": currency}
    _refused(
        account,
        CurrencyMismatch,
        lambda: account.place_hold("h", other, LATER, "clearing:x", NOW),
    )
    # These have no currency check of their own: the sum taken in Money refuses it.
    _refused(account, CurrencyMismatch, lambda: account.credit_confirmed_deposit(other, uuid4()))
    _refused(account, CurrencyMismatch, lambda: account.post_reversal(other, uuid4()))
    _refused(account, CurrencyMismatch, lambda: account.post_reversal(-other, uuid4()))


def test_a_capture_answers_money_in_the_account_currency() -> None:
    account = _account(500, currency="JPY")
    account.place_hold("h1", Money(300, "JPY"), LATER, "clearing:card", NOW)
    assert account.capture_hold("h1", 200, uuid4(), NOW) == Money(200, "JPY")
