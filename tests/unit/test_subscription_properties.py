"""Random subscription commands and test-clock advances, with every invariant checked
after every step (hypothesis ``RuleBasedStateMachine`` over the real handlers)."""

from __future__ import annotations

import contextlib
import itertools
from datetime import timedelta
from typing import Any
from uuid import UUID

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from commands import messages as m
from domain.advance_budget import steps_due_by
from domain.errors import DomainError
from domain.subscription_states import MACHINE
from domain.subscriptions import Subscription
from tests.unit.billing_world import START, World

ALLOWED = {
    (str(t.source), str(t.dest))
    for event in MACHINE.events.values()
    for transitions in event.transitions.values()
    for t in transitions
}


class SubscriptionLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = World()
        w = self.world
        self.clock_id = UUID(w.body(m.CreateTestClock(frozen_time=START))["test_clock"]["id"])
        self.prices = [
            UUID(w.plan(code, amount)) for code, amount in (("BASIC", 900), ("PRO", 3100))
        ]
        self.subs: list[UUID] = []
        self.history: dict[UUID, list[tuple[str, int, Any]]] = {}
        self.now = START

    def teardown(self) -> None:
        self.world.bus.close()

    def _try(self, command: m.Command) -> None:
        # A refusal is a legal outcome; the invariants check the state it left.
        with contextlib.suppress(DomainError):
            self.world.run(command)

    @rule(trial=st.sampled_from([0, 0, 7, 30]), price=st.integers(0, 1), quantity=st.integers(1, 5))
    def subscribe(self, trial: int, price: int, quantity: int) -> None:
        if len(self.subs) >= 4:
            return
        customer = self.world.customer(f"u{len(self.subs)}", str(self.clock_id))
        body = self.world.body(
            m.CreateSubscription(
                customer_id=UUID(customer),
                items=[m.SubscriptionItem(price_id=self.prices[price], quantity=quantity)],
                trial_days=trial,
            )
        )
        self.subs.append(UUID(body["subscription"]["id"]))

    @precondition(lambda self: self.subs)
    @rule(days=st.integers(0, 70), hours=st.integers(0, 23))
    def advance(self, days: int, hours: int) -> None:
        self.now += timedelta(days=days, hours=hours)
        # No charge can fail here (no provider): the budget's count is exact.
        counted = sum(steps_due_by(self._load(s), self.now) for s in self.subs)
        body = self.world.body(m.AdvanceTestClock(test_clock_id=self.clock_id, to=self.now))
        assert sum(body["steps"].values()) == counted

    @precondition(lambda self: self.subs)
    @rule(data=st.data())
    def act(self, data: st.DataObject) -> None:
        sub = data.draw(st.sampled_from(self.subs))
        command = data.draw(
            st.sampled_from(
                [
                    m.CancelSubscription(subscription_id=sub),
                    m.CancelSubscription(subscription_id=sub, at_period_end=True),
                    m.UndoCancelSubscription(subscription_id=sub),
                    m.PauseSubscription(subscription_id=sub),
                    m.ResumeSubscription(subscription_id=sub),
                    m.ExtendTrial(subscription_id=sub, trial_end=self.now + timedelta(days=10)),
                ]
            )
        )
        self._try(command)

    @precondition(lambda self: self.subs)
    @rule(data=st.data(), mode=st.sampled_from(["prorate", "none", "period_end"]))
    def change(self, data: st.DataObject, mode: str) -> None:
        sub = data.draw(st.sampled_from(self.subs))
        price = data.draw(st.sampled_from(self.prices))
        quantity = data.draw(st.integers(1, 5))
        self._try(
            m.ChangeSubscriptionItems(
                subscription_id=sub,
                items=[m.SubscriptionItem(price_id=price, quantity=quantity)],
                proration=mode,
            )
        )

    def _load(self, sub_id: UUID) -> Subscription:
        return self.world.sub(str(sub_id))

    @invariant()
    def nothing_is_overdue_after_an_advance(self) -> None:
        for sub_id in self.subs:
            due = self._load(sub_id).next_due_at()
            assert due is None or due > self.now

    @invariant()
    def status_changes_only_along_the_table(self) -> None:
        for sub_id in self.subs:
            events = list(self.world.app.events.get(sub_id))
            statuses = [getattr(e, "status", None) for e in events]
            seen = [s for s in statuses if s is not None]
            for before, after in itertools.pairwise(seen):
                assert before == after or (before, after) in ALLOWED, (before, after)

    @invariant()
    def renewals_tile_time_without_gap_or_overlap(self) -> None:
        for sub_id in self.subs:
            events = list(self.world.app.events.get(sub_id))
            last_end = None
            for event in events:
                if type(event).__name__ == "Resumed":
                    last_end = None  # a resumption re-anchors: paused time is not billed
                if type(event).__name__ == "Renewed":
                    assert event.period_start < event.period_end
                    if last_end is not None:
                        assert event.period_start == last_end
                    last_end = event.period_end

    @invariant()
    def canceled_exactly_when_a_cancel_time_is_set(self) -> None:
        for sub_id in self.subs:
            sub = self._load(sub_id)
            assert (sub.status == "canceled") == (sub.canceled_at is not None)
            assert sub.period_amount >= 0


SubscriptionLifecycle.TestCase.settings = settings(
    max_examples=25, stateful_step_count=25, deadline=None
)
test_subscription_lifecycle = SubscriptionLifecycle.TestCase
