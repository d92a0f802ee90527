"""Provider customers and mirrored subscriptions as pure objects: the create_customer call
(one id per customer, provider and generation), deferring a call that waits for it
without spending its attempts, the order of provider events about a subscription, and
the normalized fields the Stripe and Paddle parsers add for it."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from adapters.providers.paddle_events import normalize as paddle_normalize
from adapters.providers.stripe_events import normalize as stripe_normalize
from commands.provider_customers import customer_call_id
from domain.errors import InvalidTransition
from domain.provider_call_params import CheckoutLine, CheckoutParams, CreateCustomerParams
from domain.provider_calls import MAX_ATTEMPTS, ProviderCall
from domain.subscription_mirrors import SubscriptionMirror

NOW = datetime(2030, 1, 1, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "stripe" / "fixtures3.json"


def customer_call(project_id: Any = None, customer_id: Any = None) -> ProviderCall:
    project_id = project_id or uuid4()
    customer_id = customer_id or uuid4()
    return ProviderCall.request(
        project_id=project_id,
        provider="stripe",
        subject=f"stripe:{customer_id}:1",
        params=CreateCustomerParams(customer_id=str(customer_id), email="a@example.com", name=""),
        now=NOW,
    )


def test_one_customer_call_per_customer_provider_and_generation() -> None:
    project, customer = uuid4(), uuid4()
    made = customer_call(project, customer)
    assert made.id == customer_call_id(project, "stripe", customer, 1)
    assert made.idempotency_key == f"tally:{made.id}:1"  # the same on every retry
    assert made.id != customer_call_id(project, "paddle", customer, 1)
    assert made.id != customer_call_id(project, "stripe", customer, 2)
    assert made.id != customer_call_id(project, "stripe", uuid4(), 1)


def test_a_deferred_call_stays_pending_and_keeps_all_its_attempts() -> None:
    needed = customer_call()
    waiting = ProviderCall.request(
        project_id=needed.project_id,
        provider="stripe",
        subject="txn-1",
        params=CheckoutParams(
            mode="item",
            lines=(CheckoutLine("Pro", 900, "EUR", 1),),
            success_url="https://shop.example/ok",
            cancel_url="https://shop.example/no",
            customer_ref=None,
            customer_id=str(uuid4()),
            customer_call=str(needed.id),
        ),
        now=NOW,
    )
    assert waiting.customer_call == needed.id
    for n in range(MAX_ATTEMPTS * 2):
        waiting.wait_for(needed.id, NOW + timedelta(seconds=n + 1), "waiting")
    assert (waiting.state, waiting.attempts) == ("pending", 0)
    assert waiting.next_attempt_at == NOW + timedelta(seconds=MAX_ATTEMPTS * 2)
    assert waiting.summary()["waits_for"] == str(needed.id)
    waiting.succeed({"url": "https://pay.example/1", "customer_ref": "cus_1"})
    assert waiting.summary()["customer_ref"] == "cus_1"
    with pytest.raises(InvalidTransition):
        waiting.wait_for(needed.id, NOW, "too late")


def mirror() -> SubscriptionMirror:
    return SubscriptionMirror.start(uuid4(), uuid4(), "stripe")


def test_only_events_at_least_as_new_as_the_newest_are_observed() -> None:
    seen = mirror()
    assert seen.observe("evt_2", NOW + timedelta(seconds=20), "active", False)
    assert not seen.is_newest(NOW + timedelta(seconds=10))
    assert not seen.observe("evt_1", NOW + timedelta(seconds=10), "past_due", False)
    assert not seen.observe("evt_2", NOW + timedelta(seconds=20), "active", False)  # again
    assert seen.observe("evt_3", NOW + timedelta(seconds=20), "past_due", True)  # same second
    assert (seen.event_id, seen.status, seen.cancel_at_period_end) == ("evt_3", "past_due", True)
    # An event without a time cannot be ordered: taken as the newest, the time kept.
    assert seen.observe("evt_4", None, "active", False)
    assert seen.newest_at == NOW + timedelta(seconds=20)


def stripe_subscription_event(**changes: Any) -> dict[str, Any]:
    resources = json.loads(FIXTURES.read_text())["resources"]
    obj = copy.deepcopy(resources["subscription"])
    obj.update(changes)
    event = copy.deepcopy(resources["event"])
    event.update(
        id="evt_u",
        type="customer.subscription.updated",
        created=1_790_000_000,
        data={"object": obj},
    )
    return dict(event)


def test_stripe_subscription_events_carry_status_and_cancel_at_period_end() -> None:
    parsed = stripe_normalize(
        stripe_subscription_event(status="past_due", cancel_at_period_end=True)
    )
    assert (parsed.status, parsed.cancel_at_period_end) == ("past_due", True)
    kept = stripe_normalize(stripe_subscription_event(status="active", cancel_at_period_end=False))
    assert kept.cancel_at_period_end is False
    assert kept.occurred_at == datetime.fromtimestamp(1_790_000_000, UTC)


def test_only_subscription_events_say_anything_about_cancel_at_period_end() -> None:
    resources = json.loads(FIXTURES.read_text())["resources"]
    event = copy.deepcopy(resources["event"])
    event.update(type="invoice.paid", data={"object": resources["invoice"]})
    assert stripe_normalize(event).cancel_at_period_end is None


def paddle_subscription(change: dict[str, Any] | None, status: str = "active") -> dict[str, Any]:
    return {
        "event_id": "evt_p",
        "event_type": "subscription.updated",
        "occurred_at": "2026-11-21T10:00:00.000000Z",
        "data": {"id": "sub_01", "status": status, "scheduled_change": change},
    }


def test_paddle_scheduled_cancel_is_cancel_at_period_end() -> None:
    cancel = {"action": "cancel", "effective_at": "2026-12-21T00:00:00Z", "resume_at": None}
    parsed = paddle_normalize(paddle_subscription(cancel))
    assert (parsed.status, parsed.cancel_at_period_end) == ("active", True)
    pause = {"action": "pause", "effective_at": "2026-12-21T00:00:00Z", "resume_at": None}
    assert paddle_normalize(paddle_subscription(pause)).cancel_at_period_end is False
    assert paddle_normalize(paddle_subscription(None, "past_due")).cancel_at_period_end is False
