"""A test clock's advance (``commands/clock_advance.py``) and its step budget
(``domain/advance_budget.py``): a refused advance changes nothing, and the budget counts
exactly the steps an advance takes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commands import messages as m
from commands import test_clocks
from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from domain.advance_budget import MAX_ADVANCE_STEPS, check_step_budget, steps_due_by
from domain.errors import DomainError, ValidationFailed
from domain.subscriptions import Subscription
from tests.unit.billing_world import START, World


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    yield w
    w.bus.close()


def _price(world: World, code: str, interval: str) -> UUID:
    product = world.body(m.DefineProduct(code=code, name=code.title(), features=[code]))
    price = m.DefinePrice(
        product_id=UUID(product["product"]["id"]),
        lookup_key=f"{code}_{interval}",
        currency="EUR",
        scheme="flat",
        unit_amount=500,
        interval=interval,
    )
    return UUID(world.body(price)["price"]["id"])


def _on_clock(world: World, frozen_time: datetime, *intervals: str) -> tuple[UUID, list[UUID]]:
    """A clock at ``frozen_time`` with a subscription on each interval, one customer each."""
    clock = world.body(m.CreateTestClock(name="c", frozen_time=frozen_time))["test_clock"]["id"]
    subs = []
    for n, interval in enumerate(intervals):
        customer = world.customer(f"u{n}", clock)
        price = _price(world, f"P{n}", interval)
        body = world.body(
            m.CreateSubscription(
                customer_id=UUID(customer), items=[m.SubscriptionItem(price_id=price)]
            )
        )
        subs.append(UUID(body["subscription"]["id"]))
    return UUID(clock), subs


def _refused_in_place(world: World, clock_id: UUID, to: datetime) -> UnitOfWork:
    """Run the advance's handler on a unit of work of its own; it must refuse."""
    uow = UnitOfWork(world.app)
    ctx = Context(world.project_id, "key_test", now=world.clock.now())
    with pytest.raises(ValidationFailed):
        test_clocks.advance_test_clock(uow, m.AdvanceTestClock(test_clock_id=clock_id, to=to), ctx)
    return uow


def test_an_advance_over_the_step_budget_is_refused_before_anything_changes(
    world: World,
) -> None:
    clock_id, (sub_id,) = _on_clock(world, START, "day")
    # One renewal a day: a day more than the budget is one step too many.
    uow = _refused_in_place(world, clock_id, START + timedelta(days=MAX_ADVANCE_STEPS + 1))
    assert uow.pending_count() == 0
    assert world.sub(str(sub_id)).period_index == 0
    assert world.app.repository.get(clock_id).frozen_time == START


def test_a_period_past_the_last_time_is_refused_before_any_step(world: World) -> None:
    near_end = datetime(9996, 3, 1, tzinfo=UTC)
    clock_id, _ = _on_clock(world, near_end, "month", "year")
    # The monthly one renews 24 times on the way; the yearly one's second renewal, on
    # 9998-03-01, starts a period that would end after MAX_TIMESTAMP (9999-01-01).
    uow = _refused_in_place(world, clock_id, datetime(9998, 12, 1, tzinfo=UTC))
    assert uow.pending_count() == 0


def test_the_budget_takes_exactly_max_steps(world: World) -> None:
    _, (sub_id,) = _on_clock(world, START, "day")
    sub = world.sub(str(sub_id))
    assert check_step_budget([sub], START + timedelta(days=MAX_ADVANCE_STEPS)) == MAX_ADVANCE_STEPS
    with pytest.raises(ValidationFailed, match="more than 200000 steps"):
        check_step_budget([sub, sub], START + timedelta(days=MAX_ADVANCE_STEPS // 2 + 1))


def test_an_advance_takes_the_steps_the_budget_counted(world: World) -> None:
    clock_id, subs = _on_clock(world, START, "day", "week", "month")
    to = START + timedelta(days=45)
    counted = [steps_due_by(world.sub(str(s)), to) for s in subs]
    steps = world.body(m.AdvanceTestClock(test_clock_id=clock_id, to=to))["steps"]
    assert counted == [45, 6, 1]
    assert steps == {"renewed": 52}
    assert [world.sub(str(s)).period_index for s in subs] == counted


# -- the count against the real lifecycle ------------------------------------------------

ITEMS = [{"price_id": "p", "quantity": 1, "amount": 100}]


ACTIONS = [
    lambda sub, now: sub.pause(now, now + timedelta(days=3)),
    lambda sub, now: sub.pause(now),
    lambda sub, now: sub.cancel(now, at_period_end=True),
    lambda sub, now: sub.undo_cancel(),
    lambda sub, now: sub.mark_past_due(),
    lambda sub, now: sub.mark_unpaid(),
    lambda sub, now: sub.reactivate(),
    lambda sub, now: sub.activate(),
    lambda sub, now: sub.start_trial(now),
    lambda sub, now: sub.extend_trial(now + timedelta(days=9)),
]


@st.composite
def subscriptions(draw: st.DrawFn) -> tuple[Subscription, datetime]:
    """A subscription in a random state, and the time it has reached."""
    now = START
    sub = Subscription.start(
        project_id=UUID(int=1),
        customer_id=UUID(int=2),
        currency="EUR",
        items=ITEMS,
        interval=draw(st.sampled_from(["day", "week", "month", "year"])),
        interval_count=draw(st.integers(1, 3)),
        now=now,
        trial_days=draw(st.sampled_from([0, 0, 5, 40])),
        incomplete=draw(st.booleans()),
    )
    for action in draw(st.lists(st.sampled_from(ACTIONS), max_size=4)):
        now += timedelta(hours=draw(st.integers(0, 24 * 40)))
        sub.process_due(now)
        # A refused action is a legal outcome: the state stays as it was.
        with contextlib.suppress(DomainError):
            action(sub, now)
    return sub, now


@settings(max_examples=300, deadline=None)
@given(case=subscriptions(), hours=st.integers(0, 24 * 500))
def test_steps_due_by_is_what_process_due_does(
    case: tuple[Subscription, datetime], hours: int
) -> None:
    sub, now = case
    until = now + timedelta(hours=hours)
    counted = steps_due_by(sub, until)
    assert counted == len(sub.process_due(until))
