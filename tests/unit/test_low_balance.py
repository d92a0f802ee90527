"""Low balance (issue 12): the Account records ``BalanceLow`` once per fall of its available
balance below its threshold, never again while below, and again only after it was back
at or above. The property checks the aggregate against the simplest model of that: a
command records BalanceLow exactly when the account is low after it and was not low
after the command before (a threshold change counts as a command). Pure domain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from domain.accounts import Account
from domain.errors import AccountClosed, DomainError, InvalidAmount
from domain.limits import MAX_AMOUNT_MINOR
from domain.money import Money

PROJECT = UUID("00000000-0000-0000-0000-0000000000bb")
START = datetime(2026, 1, 1, tzinfo=UTC)


def eur(amount: int) -> Money:
    return Money(amount, "EUR")


def lows(account: Account) -> list[Any]:
    return [e for e in account.collect_events() if type(e).__name__ == "BalanceLow"]


def test_a_withdrawal_below_the_threshold_fires_once_and_a_deposit_back_to_it_rearms() -> None:
    account = Account.open(PROJECT, "c", "EUR", low_balance_threshold=500)
    assert len(lows(account)) == 1  # opened at 0, below 500: it is low
    account.deposit(eur(1000), uuid4())
    account.withdraw(eur(400), uuid4())
    assert lows(account) == []  # 600: above
    account.withdraw(eur(101), uuid4())
    fired = lows(account)
    assert [(e.available, e.threshold) for e in fired] == [(499, 500)]
    account.withdraw(eur(99), uuid4())
    assert lows(account) == []  # still below: nothing new
    account.deposit(eur(100), uuid4())  # 500: at the threshold re-arms
    account.withdraw(eur(1), uuid4())
    assert [e.available for e in lows(account)] == [499]


def test_a_hold_counts_against_the_available_balance() -> None:
    account = Account.open(PROJECT, "c", "EUR", low_balance_threshold=100)
    account.deposit(eur(300), uuid4())
    account.collect_events()
    account.place_hold("h1", eur(250), START + timedelta(days=1), "shop", START)
    assert [e.available for e in lows(account)] == [50]
    account.void_hold("h1")
    account.place_hold("h2", eur(250), START + timedelta(days=1), "shop", START)
    assert [e.available for e in lows(account)] == [50]


def test_changing_the_threshold_can_cross_and_clearing_it_rearms() -> None:
    account = Account.open(PROJECT, "c", "EUR")
    account.deposit(eur(300), uuid4())
    assert lows(account) == []  # no threshold: never low
    account.set_low_balance_threshold(301)
    assert [(e.available, e.threshold) for e in lows(account)] == [(300, 301)]
    account.set_low_balance_threshold(1000)
    assert lows(account) == []  # still below, already told
    account.set_low_balance_threshold(None)
    account.set_low_balance_threshold(400)
    assert [e.threshold for e in lows(account)] == [400]
    account.set_low_balance_threshold(300)  # at: re-armed, not low
    account.set_low_balance_threshold(301)
    assert [e.threshold for e in lows(account)] == [301]


@pytest.mark.parametrize("bad", [-1, MAX_AMOUNT_MINOR + 1, True, 1.5])
def test_a_threshold_outside_the_money_limits_is_refused(bad: Any) -> None:
    with pytest.raises(InvalidAmount):
        Account.open(PROJECT, "c", "EUR", low_balance_threshold=bad)
    account = Account.open(PROJECT, "c", "EUR")
    account.collect_events()
    with pytest.raises(InvalidAmount):
        account.set_low_balance_threshold(bad)
    assert account.collect_events() == []


def test_a_closed_account_keeps_its_threshold() -> None:
    account = Account.open(PROJECT, "c", "EUR")
    account.close()
    with pytest.raises(AccountClosed):
        account.set_low_balance_threshold(10)
    assert account.low_balance_threshold is None


class LowBalanceModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.account = Account.open(PROJECT, "c", "EUR", overdraft_limit=200)
        self.events: list[Any] = list(self.account.collect_events())
        self.was_low = False
        self.now = START
        self.fired = 0

    def _step(self, action: Any) -> None:
        """Run one command; it records BalanceLow exactly when the account is low now
        and was not after the previous command. A refused command changes nothing."""
        try:
            action()
        except DomainError:
            assert self.account.collect_events() == []
            return
        new = self.account.collect_events()
        self.events.extend(new)
        threshold = self.account.low_balance_threshold
        low = threshold is not None and self.account.available < threshold
        fired = [e for e in new if type(e).__name__ == "BalanceLow"]
        assert len(fired) == (1 if low and not self.was_low else 0)
        for e in fired:
            assert (e.available, e.threshold) == (self.account.available, threshold)
        self.fired += len(fired)
        self.was_low = low

    @rule(amount=st.integers(1, 600) | st.integers(1, 3))
    def deposit(self, amount: int) -> None:
        self._step(lambda: self.account.deposit(eur(amount), uuid4()))

    @rule(amount=st.integers(1, 600) | st.integers(1, 3))
    def withdraw(self, amount: int) -> None:
        self._step(lambda: self.account.withdraw(eur(amount), uuid4()))

    @rule(delta=st.integers(-600, 600).filter(bool))
    def reverse(self, delta: int) -> None:
        self._step(lambda: self.account.post_reversal(eur(delta), uuid4()))

    @rule(amount=st.integers(1, 600), hours=st.integers(1, 5))
    def hold(self, amount: int, hours: int) -> None:
        hold_id = f"h{len(self.events)}"
        expires = self.now + timedelta(hours=hours)
        self._step(lambda: self.account.place_hold(hold_id, eur(amount), expires, "d", self.now))

    @rule(data=st.data(), part=st.booleans())
    def settle_hold(self, data: st.DataObject, part: bool) -> None:
        active = sorted(self.account.expired_holds(datetime.max.replace(tzinfo=UTC)))
        if not active:
            return
        hold_id = data.draw(st.sampled_from(active))
        if data.draw(st.booleans()):
            self._step(lambda: self.account.void_hold(hold_id))
        else:
            amount = 1 if part else None
            self._step(lambda: self.account.capture_hold(hold_id, amount, uuid4(), self.now))

    @rule(hours=st.integers(1, 3))
    def time_passes(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        for hold_id in self.account.expired_holds(self.now):
            self._step(lambda h=hold_id: self.account.expire_hold(h, self.now))

    @rule(threshold=st.none() | st.integers(0, 1500))
    def set_threshold(self, threshold: int | None) -> None:
        self._step(lambda: self.account.set_low_balance_threshold(threshold))

    @rule(offset=st.integers(-2, 2))
    def set_threshold_near_the_balance(self, offset: int) -> None:
        # Thresholds at, just above and just below the balance, where "at or above"
        # re-arms and "below" fires: random thresholds alone rarely land there.
        threshold = max(0, self.account.available + offset)
        self._step(lambda: self.account.set_low_balance_threshold(threshold))

    @invariant()
    def replay_gives_the_same_watch(self) -> None:
        replayed: Any = None
        for event in self.events:
            replayed = event.mutate(replayed)
        assert replayed.low_balance_armed == self.account.low_balance_armed
        assert replayed.low_balance_threshold == self.account.low_balance_threshold
        assert replayed.available == self.account.available


TestLowBalanceModel = LowBalanceModel.TestCase
TestLowBalanceModel.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
