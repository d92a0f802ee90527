"""The subscription and test-clock handlers, run through a real command bus on the
library's in-memory store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from commands import messages as m
from commands.bus import Happened
from domain.errors import (
    ClockBackwards,
    CurrencyMismatch,
    InvalidTransition,
    NotFound,
    PriceArchived,
    TestClockInLiveMode,
    ValidationFailed,
)
from tests.unit.billing_world import START, World


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    yield w
    w.bus.close()


def _subscribe(world: World, customer: str, price: str, **kw: Any) -> str:
    body = world.body(
        m.CreateSubscription(
            customer_id=UUID(customer), items=[m.SubscriptionItem(price_id=UUID(price))], **kw
        )
    )
    return str(body["subscription"]["id"])


def test_register_customer_twice_returns_the_first(world: World) -> None:
    first = world.run(m.RegisterCustomer(external_id="u1", currency="EUR", email="a@b.co"))
    second = world.run(m.RegisterCustomer(external_id="u1", currency="EUR", email="x@y.co"))
    assert (first.happened, second.happened) == (Happened.CREATED, Happened.EXISTED)
    assert second.body["customer"]["id"] == first.body["customer"]["id"]
    assert second.body["customer"]["email"] == "a@b.co"


def test_changed_price_definition_is_a_new_price_and_archives_the_old(world: World) -> None:
    old = world.plan("PRO", 2000)
    again = world.plan("PRO", 2000)
    new = world.plan("PRO", 2500)
    assert again == old
    assert new != old
    assert not world.app.repository.get(UUID(old)).active
    customer = world.customer()
    with pytest.raises(PriceArchived):
        _subscribe(world, customer, old)


def test_price_currency_must_match_the_customer(world: World) -> None:
    usd = world.plan("BASIC", 900, currency="USD")
    with pytest.raises(CurrencyMismatch):
        _subscribe(world, world.customer(), usd)


def test_one_time_price_cannot_be_subscribed(world: World) -> None:
    product = world.body(m.DefineProduct(code="SETUP", name="Setup"))
    price = world.body(
        m.DefinePrice(
            product_id=UUID(product["product"]["id"]),
            lookup_key="setup",
            currency="EUR",
            scheme="flat",
            unit_amount=5000,
        )
    )
    with pytest.raises(ValidationFailed, match="one-time"):
        _subscribe(world, world.customer(), price["price"]["id"])


def test_unknown_price_and_customer_answer_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        _subscribe(world, world.customer(), "00000000-0000-0000-0000-000000000001")
    with pytest.raises(NotFound):
        _subscribe(world, "00000000-0000-0000-0000-000000000002", world.plan("PRO", 100))


def test_cancel_of_a_canceled_subscription_is_refused_and_writes_nothing(world: World) -> None:
    sub_id = _subscribe(world, world.customer(), world.plan("PRO", 1000))
    world.run(m.CancelSubscription(subscription_id=UUID(sub_id)))
    version = world.sub(sub_id).version
    with pytest.raises(InvalidTransition, match="canceled"):
        world.run(m.CancelSubscription(subscription_id=UUID(sub_id)))
    assert world.sub(sub_id).version == version


def test_test_clock_moves_a_subscription_through_trial_renewals_change_and_cancel(
    world: World,
) -> None:
    clock = world.body(m.CreateTestClock(name="c", frozen_time=START))["test_clock"]["id"]
    customer = world.customer(clock=clock)
    pro = world.plan("PRO", 3100)
    basic = world.plan("BASIC", 1000)
    sub_id = _subscribe(world, customer, basic, trial_days=14)
    advanced = world.body(
        m.AdvanceTestClock(test_clock_id=UUID(clock), to=START + timedelta(days=60))
    )
    assert advanced["steps"] == {"trial_end_announced": 1, "trial_ended": 1, "renewed": 1}
    world.run(
        m.ChangeSubscriptionItems(
            subscription_id=UUID(sub_id), items=[m.SubscriptionItem(price_id=UUID(pro))]
        )
    )
    lines = world.sub(sub_id).proration_lines
    assert lines[0]["amount"] < 0 < lines[1]["amount"]
    world.run(m.CancelSubscription(subscription_id=UUID(sub_id), at_period_end=True))
    done = world.body(m.AdvanceTestClock(test_clock_id=UUID(clock), to=START + timedelta(days=200)))
    assert done["steps"] == {"canceled": 1}
    assert world.sub(sub_id).status == "canceled"
    with pytest.raises(ClockBackwards):
        world.run(m.AdvanceTestClock(test_clock_id=UUID(clock), to=START))


def test_a_year_of_monthly_renewals_for_100_customers_takes_seconds(world: World) -> None:
    clock = world.body(m.CreateTestClock(name="year", frozen_time=START))["test_clock"]["id"]
    price = world.plan("PRO", 1000)
    subs = [_subscribe(world, world.customer(f"u{i}", clock), price) for i in range(100)]
    started = time.perf_counter()
    advanced = world.body(
        m.AdvanceTestClock(test_clock_id=UUID(clock), to=START + timedelta(days=366))
    )
    elapsed = time.perf_counter() - started
    assert advanced["steps"] == {"renewed": 1200}
    assert all(world.sub(s).period_index == 12 for s in subs)
    assert elapsed < 30


def test_test_clock_is_refused_in_a_live_project() -> None:
    live = World(mode="live")
    with pytest.raises(TestClockInLiveMode):
        live.run(m.CreateTestClock(frozen_time=START))
    live.bus.close()


def test_scheduler_command_renews_once_however_often_it_runs(world: World) -> None:
    sub_id = _subscribe(world, world.customer(), world.plan("PRO", 1000))
    world.clock.advance(timedelta(days=29))
    first = world.body(m.ProcessDueSubscription(subscription_id=UUID(sub_id)))
    second = world.body(m.ProcessDueSubscription(subscription_id=UUID(sub_id)))
    assert first["steps"] == ["renewed"]
    assert second["steps"] == []
    assert world.sub(sub_id).period_index == 1
