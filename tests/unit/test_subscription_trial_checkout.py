"""An incomplete subscription that offers a trial (a checkout with a trial, issue 11 bug 5)
waits for a payment method; its trial starts when the checkout completes and lasts the
offered days from then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.errors import InvalidTransition
from domain.subscriptions import Subscription

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
