from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.catalog import Price
from domain.customers import Customer
from domain.errors import InvalidTransition, ValidationFailed
from domain.subscriptions import Subscription

NOW = datetime(2027, 1, 31, 9, tzinfo=UTC)


def _sub(trial_days: int = 0, amount: int = 1000) -> Subscription:
    return Subscription.start(
        project_id=uuid4(),
        customer_id=uuid4(),
        currency="EUR",
        items=[{"price_id": "p1", "quantity": 1, "amount": amount}],
        interval="month",
        interval_count=1,
        now=NOW,
        trial_days=trial_days,
    )


def test_monthly_subscription_renews_on_month_ends_without_drift() -> None:
    sub = _sub()
    ends = []
    moment = NOW
    for _ in range(3):
        moment = sub.current_period[1]
        assert sub.renew(moment)
        ends.append(sub.current_period[0].date().isoformat())
    assert ends == ["2027-02-28", "2027-03-31", "2027-04-30"]


def test_renew_before_the_period_ends_records_nothing() -> None:
    sub = _sub()
    version = sub.version
    assert not sub.renew(NOW + timedelta(days=3))
    assert sub.version == version


def test_trial_then_activation_anchors_periods_at_trial_end() -> None:
    sub = _sub(trial_days=14)
    assert sub.status == "trialing"
    assert not sub.end_trial(NOW + timedelta(days=13))
    assert sub.end_trial(NOW + timedelta(days=14))
    assert sub.status == "active"
    assert sub.current_period[0] == NOW + timedelta(days=14)


def test_cancel_at_period_end_can_be_undone_and_otherwise_cancels_on_renewal() -> None:
    sub = _sub()
    sub.cancel(NOW, at_period_end=True)
    sub.undo_cancel()
    sub.cancel(NOW, at_period_end=True)
    assert sub.renew(sub.current_period[1])
    assert sub.status == "canceled"
    with pytest.raises(InvalidTransition, match="canceled"):
        sub.cancel(NOW)


def test_pause_only_from_active_and_resume_only_from_paused() -> None:
    sub = _sub(trial_days=3)
    with pytest.raises(InvalidTransition, match="pause"):
        sub.pause(NOW)
    sub.end_trial(NOW + timedelta(days=3))
    sub.pause(NOW + timedelta(days=3))
    assert sub.status == "paused"
    with pytest.raises(InvalidTransition, match="pause"):
        sub.pause(NOW + timedelta(days=4))
    sub.resume(NOW + timedelta(days=10))
    assert sub.status == "active"
    assert sub.current_period[0] == NOW + timedelta(days=10)


def test_a_paused_subscription_is_canceled_now_and_never_at_a_period_end() -> None:
    sub = _sub()
    sub.pause(NOW + timedelta(days=3))
    assert sub.next_status("cancel") == "canceled"
    version = sub.version
    with pytest.raises(InvalidTransition, match=r"paused .* cancel it now") as refused:
        sub.cancel(NOW + timedelta(days=4), at_period_end=True)
    assert refused.value.context == {"state": "paused", "trigger": "cancel"}
    assert (sub.version, sub.cancel_at_period_end) == (version, False)  # nothing recorded
    sub.cancel(NOW + timedelta(days=5))
    assert (sub.status, sub.canceled_at) == ("canceled", NOW + timedelta(days=5))
    assert sub.next_due_at() is None  # no resume, no renewal
    with pytest.raises(InvalidTransition, match="resume"):
        sub.resume(NOW + timedelta(days=6))


def test_upgrade_half_way_prorates_credit_and_charge() -> None:
    sub = _sub(amount=2800)  # Jan 31 -> Feb 28: 28 days
    half = NOW + timedelta(days=14)
    sub.change_items([{"price_id": "p2", "quantity": 1, "amount": 5600}], half)
    assert [line["amount"] for line in sub.proration_lines] == [-1400, 2800]


def test_change_at_period_end_applies_on_renewal() -> None:
    sub = _sub()
    sub.change_items([{"price_id": "p2", "quantity": 3, "amount": 3000}], NOW, "period_end")
    assert sub.items[0]["price_id"] == "p1"
    sub.renew(sub.current_period[1])
    assert sub.items[0]["price_id"] == "p2"
    assert sub.proration_lines == []


def test_quantity_must_be_positive() -> None:
    with pytest.raises(ValidationFailed):
        _sub().change_items([{"price_id": "p1", "quantity": 0, "amount": 0}], NOW)


def test_graduated_and_volume_tiers_price_differently() -> None:
    tiers = [
        {"up_to": 10, "unit_amount": 500},
        {"up_to": None, "unit_amount": 300, "flat_amount": 1000},
    ]
    common = {"project_id": uuid4(), "product_id": uuid4(), "currency": "EUR", "interval": "month"}
    graduated = Price.define(scheme="graduated", tiers=tiers, **common)  # type: ignore[arg-type]
    volume = Price.define(scheme="volume", tiers=tiers, **common)  # type: ignore[arg-type]
    assert graduated.amount_for(12) == 10 * 500 + 2 * 300 + 1000
    assert volume.amount_for(12) == 12 * 300 + 1000
    assert volume.amount_for(10) == 10 * 500


def test_one_time_price_cannot_have_a_trial() -> None:
    with pytest.raises(ValidationFailed, match="one-time"):
        Price.define(
            project_id=uuid4(),
            product_id=uuid4(),
            currency="EUR",
            scheme="flat",
            unit_amount=100,
            trial_days=7,
        )


def test_customer_is_registered_once_per_external_id_and_updates_record_changes_only() -> None:
    project = uuid4()
    customer = Customer.register(project, "user_42", "a@example.com", "Ann", "EUR")
    assert customer.id == Customer.create_id(project, "user_42")
    version = customer.version
    customer.update(email="a@example.com")
    assert customer.version == version
    customer.update(name="Ann B")
    assert customer.name == "Ann B"
    with pytest.raises(ValidationFailed):
        Customer.register(project, "user_43", "not-an-email", "B", "EUR")


def test_process_due_catches_up_every_missed_renewal_in_order_and_only_once() -> None:
    sub = _sub()
    later = NOW + timedelta(days=365)
    steps = sub.process_due(later)
    assert steps == ["renewed"] * 12
    assert sub.current_period[0] <= later < sub.current_period[1]
    assert sub.process_due(later) == []


def test_incomplete_subscription_expires_after_23_hours_unless_activated() -> None:
    sub = Subscription.start(
        project_id=uuid4(),
        customer_id=uuid4(),
        currency="EUR",
        items=[{"price_id": "p1", "quantity": 1, "amount": 100}],
        interval="month",
        interval_count=1,
        now=NOW,
        incomplete=True,
    )
    assert sub.process_due(NOW + timedelta(hours=22)) == []
    assert sub.process_due(NOW + timedelta(hours=23)) == ["expired"]
    assert sub.status == "incomplete_expired"
    with pytest.raises(InvalidTransition):
        sub.activate()


def test_trial_end_then_renewals_then_cancel_at_period_end_happen_in_order() -> None:
    sub = _sub(trial_days=7)
    steps = sub.process_due(NOW + timedelta(days=7 + 40))
    assert steps == ["trial_end_announced", "trial_ended", "renewed"]
    sub.cancel(NOW + timedelta(days=50), at_period_end=True)
    assert sub.process_due(NOW + timedelta(days=200)) == ["canceled"]
    assert sub.status == "canceled"


def test_a_trials_end_is_announced_three_days_ahead_once_and_again_when_extended() -> None:
    sub = _sub(trial_days=14)
    assert sub.next_step_at() == NOW + timedelta(days=11)
    assert sub.next_due_at() == NOW + timedelta(days=14)  # the status step, as the API shows
    assert sub.process_due(NOW + timedelta(days=10)) == []
    assert sub.process_due(NOW + timedelta(days=11)) == ["trial_end_announced"]
    assert sub.trial_end_announced == NOW + timedelta(days=14)
    assert sub.process_due(NOW + timedelta(days=12)) == []  # once per trial end
    sub.extend_trial(NOW + timedelta(days=20))
    assert sub.next_step_at() == NOW + timedelta(days=17)  # the new end, announced again
    assert sub.process_due(NOW + timedelta(days=20)) == ["trial_end_announced", "trial_ended"]
    short = _sub(trial_days=1)  # shorter than the notice: announced as soon as seen
    assert short.process_due(NOW) == ["trial_end_announced"]
