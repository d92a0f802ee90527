"""The Account aggregate against a tiny reference model: for random operations the
aggregate accepts exactly what the model accepts, ends with the balances the model
predicts, never goes below its floor, and replays from its own events to the same state.
Pure domain, no bus, no store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from domain.accounts import Account
from domain.errors import DomainError
from domain.money import Money

PROJECT = UUID("00000000-0000-0000-0000-0000000000aa")
START = datetime(2026, 1, 1, tzinfo=UTC)
amounts = st.integers(1, 2000)


@dataclass
class ModelHold:
    amount: int
    expires_at: datetime
    status: str = "active"


class AccountModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.overdraft = 300
        self.account = Account.open(PROJECT, "cust", "EUR", overdraft_limit=self.overdraft)
        self.events: list[Any] = list(self.account.collect_events())
        self.now = START
        self.ledger = 0
        self.holds: dict[str, ModelHold] = {}
        self.status = "open"

    @property
    def held(self) -> int:
        return sum(h.amount for h in self.holds.values() if h.status == "active")

    def _fits(self, amount: int) -> bool:
        return self.ledger - self.held - amount >= -self.overdraft

    def _apply(self, expected_ok: bool, action: Any) -> None:
        """Run ``action`` on the aggregate; it must succeed exactly when the model says."""
        version = self.account.version
        try:
            action()
        except DomainError:
            assert not expected_ok, "the aggregate refused what the model allows"
            assert self.account.version == version
            return
        assert expected_ok, "the aggregate allowed what the model refuses"
        self.events.extend(self.account.collect_events())

    def _pick_hold(self, pick: int) -> str:
        # Mostly an active hold (settled ones only ever refuse), sometimes any hold.
        active = sorted(k for k, h in self.holds.items() if h.status == "active")
        choices = active if active and pick % 4 else sorted(self.holds)
        return choices[pick % len(choices)]

    @rule(amount=amounts)
    def deposit(self, amount: int) -> None:
        ok = self.status == "open"
        self._apply(ok, lambda: self.account.deposit(Money(amount, "EUR"), uuid4()))
        self.ledger += amount if ok else 0

    @rule(amount=amounts)
    def withdraw(self, amount: int) -> None:
        ok = self.status == "open" and self._fits(amount)
        self._apply(ok, lambda: self.account.withdraw(Money(amount, "EUR"), uuid4()))
        self.ledger -= amount if ok else 0

    @rule(amount=amounts, ttl=st.integers(1, 60))
    def place_hold(self, amount: int, ttl: int) -> None:
        hold_id, expires_at = f"h{len(self.holds)}", self.now + timedelta(minutes=ttl)
        ok = self.status == "open" and self._fits(amount)
        self._apply(
            ok,
            lambda: self.account.place_hold(
                hold_id, Money(amount, "EUR"), expires_at, "clearing:x", self.now
            ),
        )
        if ok:
            self.holds[hold_id] = ModelHold(amount, expires_at)

    @precondition(lambda self: bool(self.holds))
    @rule(pick=st.integers(0, 100), part=st.none() | amounts)
    def capture(self, pick: int, part: int | None) -> None:
        hold_id = self._pick_hold(pick)
        hold = self.holds[hold_id]
        taken = hold.amount if part is None else part
        ok = (
            self.status == "open"
            and hold.status == "active"
            and self.now < hold.expires_at
            and taken <= hold.amount
        )
        self._apply(ok, lambda: self.account.capture_hold(hold_id, part, uuid4(), self.now))
        if ok:
            hold.status = "captured"
            self.ledger -= taken

    @precondition(lambda self: bool(self.holds))
    @rule(pick=st.integers(0, 100))
    def void(self, pick: int) -> None:
        hold_id = self._pick_hold(pick)
        ok = self.holds[hold_id].status == "active"
        self._apply(ok, lambda: self.account.void_hold(hold_id))
        if ok:
            self.holds[hold_id].status = "voided"

    @rule(minutes=st.integers(0, 60))
    def time_passes(self, minutes: int) -> None:
        # Holds past their expiry stay active until the sweep runs, so captures of due
        # but unswept holds are tried too (and must be refused).
        self.now += timedelta(minutes=minutes)

    @rule()
    def sweep_expires_due_holds(self) -> None:
        for hold_id in self.account.expired_holds(self.now):
            assert self.account.expire_hold(hold_id, self.now)
        self.events.extend(self.account.collect_events())
        for hold in self.holds.values():
            if hold.status == "active" and hold.expires_at <= self.now:
                hold.status = "expired"

    @rule(action=st.sampled_from(["freeze", "unfreeze"]))
    def lifecycle(self, action: str) -> None:
        if action == "freeze":
            self._apply(self.status == "open", lambda: self.account.freeze("r"))
            self.status = "frozen"
        else:
            self._apply(self.status == "frozen", self.account.unfreeze)
            self.status = "open"

    @invariant()
    def aggregate_matches_the_model(self) -> None:
        account = self.account
        assert (account.ledger, account.held, account.status) == (
            self.ledger,
            self.held,
            self.status,
        )
        assert account.available == account.ledger - account.held >= -self.overdraft
        assert {k: h.status for k, h in account.holds.items()} == {
            k: h.status for k, h in self.holds.items()
        }

    @invariant()
    def replay_gives_the_same_state(self) -> None:
        rebuilt: Any = None
        for domain_event in self.events:
            rebuilt = domain_event.mutate(rebuilt)
        assert rebuilt.summary() == self.account.summary()
        assert rebuilt.holds == self.account.holds


AccountModel.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_account_agrees_with_its_reference_model = AccountModel.TestCase
