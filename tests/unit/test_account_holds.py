"""The Account aggregate's holds: reserve, capture (whole or part), void and expiry. No
I/O."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from domain.errors import (
    AccountFrozen,
    CaptureExceedsHold,
    HoldExpired,
    HoldNotActive,
    InsufficientFunds,
    NotFound,
    ValidationFailed,
)
from domain.money import Money
from tests.unit.account_builders import LATER, NOW, new_account, refusal

# -- holds ---------------------------------------------------------------------------


def test_hold_reserves_available_but_not_ledger() -> None:
    account = new_account(1000)
    account.place_hold("h1", Money(300, "EUR"), LATER, "clearing:card", NOW)
    assert (account.ledger, account.held, account.available) == (1000, 300, 700)
    refusal(account, InsufficientFunds, lambda: account.withdraw(Money(701, "EUR"), uuid4()))
    refusal(
        account,
        InsufficientFunds,
        lambda: account.place_hold("h2", Money(701, "EUR"), LATER, "clearing:card", NOW),
    )


def test_hold_may_use_the_overdraft() -> None:
    account = new_account(0, overdraft_limit=100)
    account.place_hold("h1", Money(100, "EUR"), LATER, "clearing:card", NOW)
    assert account.available == -100


def test_hold_must_expire_in_the_future_and_have_a_new_id() -> None:
    account = new_account(1000)
    refusal(
        account,
        ValidationFailed,
        lambda: account.place_hold("h1", Money(1, "EUR"), NOW, "clearing:x", NOW),
    )
    account.place_hold("h1", Money(1, "EUR"), LATER, "clearing:x", NOW)
    refusal(
        account,
        HoldNotActive,
        lambda: account.place_hold("h1", Money(1, "EUR"), LATER, "clearing:x", NOW),
    )


def test_full_capture_moves_the_whole_hold_out() -> None:
    account = new_account(1000)
    account.place_hold("h1", Money(300, "EUR"), LATER, "clearing:card", NOW)
    assert account.capture_hold("h1", None, uuid4(), NOW) == Money(300, "EUR")
    hold = account.holds["h1"]
    assert (hold.status, hold.captured) == ("captured", 300)
    assert (account.ledger, account.held, account.available) == (700, 0, 700)


def test_partial_capture_releases_the_rest() -> None:
    account = new_account(1000)
    account.place_hold("h1", Money(300, "EUR"), LATER, "clearing:card", NOW)
    assert account.capture_hold("h1", 120, uuid4(), NOW) == Money(120, "EUR")
    assert (account.ledger, account.held, account.available) == (880, 0, 880)
    assert account.holds["h1"].captured == 120
    refusal(account, HoldNotActive, lambda: account.capture_hold("h1", 1, uuid4(), NOW))


def test_capture_above_the_hold_is_refused() -> None:
    account = new_account(1000)
    account.place_hold("h1", Money(300, "EUR"), LATER, "clearing:card", NOW)
    error = refusal(
        account, CaptureExceedsHold, lambda: account.capture_hold("h1", 301, uuid4(), NOW)
    )
    assert error.context == {"hold_amount": 300, "requested": 301}


def test_capture_checks_expiry_at_capture_time() -> None:
    account = new_account(1000)
    account.place_hold("h1", Money(300, "EUR"), LATER, "clearing:card", NOW)
    refusal(account, HoldExpired, lambda: account.capture_hold("h1", None, uuid4(), LATER))
    account.capture_hold("h1", None, uuid4(), LATER - timedelta(microseconds=1))
    assert account.ledger == 700


def test_capture_of_unknown_hold_is_not_found() -> None:
    account = new_account(1000)
    refusal(account, NotFound, lambda: account.capture_hold("nope", None, uuid4(), NOW))
    refusal(account, NotFound, lambda: account.void_hold("nope"))


def test_capture_on_a_frozen_account_is_refused() -> None:
    account = new_account(1000)
    account.place_hold("h1", Money(300, "EUR"), LATER, "clearing:card", NOW)
    account.freeze("r")
    refusal(account, AccountFrozen, lambda: account.capture_hold("h1", None, uuid4(), NOW))


def test_void_releases_the_hold_and_only_once() -> None:
    account = new_account(1000)
    account.place_hold("h1", Money(300, "EUR"), LATER, "clearing:card", NOW)
    account.void_hold("h1")
    assert (account.ledger, account.held, account.holds["h1"].status) == (1000, 0, "voided")
    refusal(account, HoldNotActive, lambda: account.void_hold("h1"))
    refusal(account, HoldNotActive, lambda: account.capture_hold("h1", None, uuid4(), NOW))


def test_expiry_releases_due_holds_only_and_is_repeatable() -> None:
    account = new_account(1000)
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
    refusal(account, HoldNotActive, lambda: account.capture_hold("soon", None, uuid4(), NOW))


def test_summary_reports_the_three_balances() -> None:
    account = new_account(1000, overdraft_limit=10)
    account.place_hold("h1", Money(300, "EUR"), LATER, "clearing:card", NOW)
    summary = account.summary()
    assert summary["ledger_balance"] == 1000
    assert summary["held_balance"] == 300
    assert summary["available_balance"] == 700
    assert summary["overdraft_limit"] == 10
    assert summary["version"] == account.version
