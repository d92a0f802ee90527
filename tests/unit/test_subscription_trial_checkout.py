"""An incomplete subscription that offers a trial (a checkout with a trial, issue 11 bug 5)
waits for a payment method; its trial starts when the checkout completes and lasts the
offered days from then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from commands import checkout
from commands import messages as m
from commands import provider_messages as pm
from commands.provider_errors import ProviderUnsupported
from domain.errors import InvalidTransition
from domain.subscriptions import Subscription
from tests.unit.billing_world import World

T0 = datetime(2030, 1, 31, 9, tzinfo=UTC)


def _incomplete(trial_days: int) -> Subscription:
    return Subscription.start(
        project_id=uuid4(),
        customer_id=uuid4(),
        currency="EUR",
        items=[{"price_id": "p1", "quantity": 1, "amount": 2900}],
        interval="month",
        interval_count=1,
        now=T0,
        trial_days=trial_days,
        incomplete=True,
    )


def test_the_trial_starts_when_the_checkout_completes_and_lasts_the_offered_days() -> None:
    sub = _incomplete(14)
    assert (sub.status, sub.offers_trial) == ("incomplete", True)
    assert sub.next_due_at() == T0 + timedelta(hours=23)  # it expires if never completed
    completed = T0 + timedelta(hours=2)
    sub.start_trial(completed)
    assert (sub.status, sub.offers_trial) == ("trialing", False)
    assert sub.trial_end == completed + timedelta(days=14)
    assert sub.current_period[0] == sub.trial_end  # the first period starts at its end
    assert sub.next_due_at() == sub.trial_end
    # Before it, the announcement of its end, three days ahead.
    assert sub.next_step_at() == sub.trial_end - timedelta(days=3)
    assert sub.process_next(sub.trial_end - timedelta(days=3)) == "trial_end_announced"
    assert sub.next_step_at() == sub.trial_end


def test_one_offering_a_trial_is_not_activated_and_one_without_starts_no_trial() -> None:
    with pytest.raises(InvalidTransition, match="payment method"):
        _incomplete(14).activate()
    plain = _incomplete(0)
    assert plain.trial_end is None
    with pytest.raises(InvalidTransition):
        plain.start_trial(T0)
    plain.activate()
    assert plain.status == "active"


def test_an_offered_trial_that_expires_unpaid_starts_nothing() -> None:
    sub = _incomplete(14)
    assert sub.expire(T0 + timedelta(hours=23))
    with pytest.raises(InvalidTransition):
        sub.start_trial(T0 + timedelta(days=1))


# -- the checkout command --------------------------------------------------------------


def _world() -> World:
    world = World()
    world.bus.handlers.update(checkout.HANDLERS)
    return world


def _checkout(world: World, provider: str, **fields: Any) -> pm.CheckoutSubscription:
    price_id = world.plan("PRO", 2900, trial_days=14)
    return pm.CheckoutSubscription(
        provider=provider,
        customer_id=UUID(world.customer("ada")),
        items=[m.SubscriptionItem(price_id=UUID(price_id))],
        success_url="https://shop.example/ok",
        cancel_url="https://shop.example/back",
        **fields,
    )


def _head(world: World) -> int:
    return int(world.app.recorder.max_notification_id() or 0)


@pytest.mark.parametrize("provider", ["paddle", "yookassa"])
def test_a_provider_that_cannot_save_a_card_without_a_payment_refuses_a_trial_checkout(
    provider: str,
) -> None:
    world = _world()
    command = _checkout(world, provider)
    before = _head(world)
    with pytest.raises(ProviderUnsupported, match="trial_days 0"):
        world.run(command)
    assert _head(world) == before  # nothing written
    # Without the trial it is the usual checkout of a first payment.
    body = world.body(command.model_copy(update={"trial_days": 0}))
    assert (body["subscription"]["status"], body["invoice"]["total"]) == ("incomplete", 2900)


def test_a_stripe_trial_checkout_asks_for_a_setup_session_and_no_invoice() -> None:
    world = _world()
    body = world.body(_checkout(world, "stripe"))
    assert "invoice" not in body
    call = world.app.repository.get(UUID(body["provider_call"]["id"]))
    params: dict[str, Any] = call.params  # type: ignore[attr-defined]
    assert (params["mode"], params["trial_days"], params["amount_minor"]) == ("setup", 14, 0)
    assert params["references"]["tally_checkout_mode"] == "setup"
    assert params["lines"][0]["name"] == "Pro, monthly: 14 days free, then 29.00 EUR"
