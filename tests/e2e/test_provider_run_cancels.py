"""A cancel asked twice of a subscription its provider runs, before the provider's webhook
came back (issue 18): the second is answered from Tally's state (202, the pending
request) and never reaches the provider, at Stripe and at Paddle alike (the fakes count
the requests); a cancel of the other kind meanwhile is refused (409 naming the first);
once the webhook shows the cancel, the rules are Tally's usual ones again; and a cancel the
provider accepted whose webhook never comes is asked again after the bounded wait
(review1 finding 7). A subscription Stripe pauses and then deletes is canceled in Tally."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from adapters.clock import FixedClock
from api.settings import Settings
from domain.limits import MAX_PROVIDER_CANCEL_WAIT_S
from tests.e2e.billing import problem
from tests.e2e.conftest import Client
from tests.e2e.paddle_sandbox import deliver, paddle_shop
from tests.e2e.stripe_billing_fake import billing_shop, send
from tests.e2e.stripe_billing_run import T0
from tests.e2e.stripe_billing_run import started as stripe_started
from tests.e2e.test_provider_run_subscriptions_paddle import (
    PRO,
    SUB,
    FakePaddleBilling,
    subscription,
)
from tests.e2e.test_provider_run_subscriptions_paddle import started as paddle_started
from tests.integration.provider_fake import FakeApi


@pytest.fixture
def stripe_api(settings: Settings, clock: FixedClock) -> Iterator[tuple[Client, FakeApi, str]]:
    with billing_shop(settings, clock) as (shop, fake):
        shop.api.ok(shop.api.post("/v1/subscription_runner", {"run_by": "provider"}))
        created, _, _ = stripe_started(shop, fake)
        yield shop.api, shop.stripe, created["id"]


@pytest.fixture
def paddle_api(settings: Settings, clock: FixedClock) -> Iterator[tuple[Client, FakeApi, str]]:
    with paddle_shop(settings, clock, FakePaddleBilling()) as (api, paddle):
        api.ok(api.post("/v1/subscription_runner", {"run_by": "provider"}))
        yield api, paddle, paddle_started(api)[0]


def cancels_sent(provider: str, fake: FakeApi) -> int:
    if provider == "stripe":
        return len(fake.sent("DELETE", "/v1/subscriptions/")) + len(
            fake.sent("POST", "/v1/subscriptions/sub_")
        )
    return len(fake.sent("POST", f"/subscriptions/{SUB}/cancel"))


@pytest.mark.parametrize("provider", ["stripe", "paddle"])
@pytest.mark.parametrize("at_period_end", [False, True])
def test_a_second_cancel_before_the_webhook_is_answered_from_tally_and_not_sent(
    request: pytest.FixtureRequest, provider: str, at_period_end: bool
) -> None:
    api, fake, sub_id = request.getfixturevalue(f"{provider}_api")
    path = f"/v1/subscriptions/{sub_id}/cancel"
    first = api.post(path, {"at_period_end": at_period_end})
    assert first.status_code == 200, first.text
    again = api.post(path, {"at_period_end": at_period_end})
    assert again.status_code == 202, again.text
    assert again.json()["provider_call"]["id"] == first.json()["provider_call"]["id"]
    assert again.json()["subscription"]["status"] == "active"  # until the webhook
    api.tally.outbox.drain()
    assert cancels_sent(provider, fake) == 1
    other = problem(api.post(path, {"at_period_end": not at_period_end}), 409, "invalid_transition")
    assert "has not answered yet" in other["detail"]
    assert cancels_sent(provider, fake) == 1


def test_once_paddle_shows_the_cancel_scheduled_a_cancel_now_is_asked(
    paddle_api: tuple[Client, FakeApi, str],
) -> None:
    api, paddle, sub_id = paddle_api
    path = f"/v1/subscriptions/{sub_id}/cancel"
    api.ok(api.post(path, {"at_period_end": True}))
    deliver(api, "ending", "subscription.updated", subscription(sub_id, PRO, 1, cancel=True))
    assert api.ok(api.get(f"/v1/subscriptions/{sub_id}"))["cancel_at_period_end"] is True
    now = api.post(path, {"at_period_end": False})
    assert now.status_code == 200, now.text
    assert [c.json() for c in paddle.sent("POST", f"/subscriptions/{SUB}/cancel")] == [
        {"effective_from": "next_billing_period"},
        {"effective_from": "immediately"},
    ]


@pytest.mark.parametrize("provider", ["stripe", "paddle"])
def test_a_cancel_whose_webhook_never_comes_is_asked_again_after_the_bounded_wait(
    request: pytest.FixtureRequest, clock: FixedClock, provider: str
) -> None:
    api, fake, sub_id = request.getfixturevalue(f"{provider}_api")
    path = f"/v1/subscriptions/{sub_id}/cancel"
    first = api.ok(api.post(path, {"at_period_end": True}))
    api.tally.outbox.drain()  # the provider accepts; its webhook is never sent
    assert cancels_sent(provider, fake) == 1
    clock.advance(timedelta(seconds=MAX_PROVIDER_CANCEL_WAIT_S - 1))
    assert api.post(path, {"at_period_end": True}).status_code == 202
    problem(api.post(path, {"at_period_end": False}), 409, "invalid_transition")
    clock.advance(timedelta(seconds=1))
    again = api.post(path, {"at_period_end": True})
    assert again.status_code == 200, again.text
    assert again.json()["provider_call"]["id"] != first["provider_call"]["id"]
    api.tally.outbox.drain()
    assert cancels_sent(provider, fake) == 2
    clock.advance(timedelta(seconds=MAX_PROVIDER_CANCEL_WAIT_S))
    now = api.post(path, {"at_period_end": False})  # the other kind, after the wait
    assert now.status_code == 200, now.text
    api.tally.outbox.drain()
    assert cancels_sent(provider, fake) == 3


def test_a_subscription_stripe_paused_then_deleted_is_canceled_in_tally(
    settings: Settings, clock: FixedClock
) -> None:
    with billing_shop(settings, clock) as (shop, fake):
        api = shop.api
        api.ok(api.post("/v1/subscription_runner", {"run_by": "provider"}))
        created, ref, _ = stripe_started(shop, fake)
        stripe_sub = fake.subscriptions[ref]
        stripe_sub["status"] = "paused"
        send(api, "evt_paused", "customer.subscription.updated", stripe_sub, T0 + 5)
        assert api.ok(api.get(f"/v1/subscriptions/{created['id']}"))["status"] == "paused"
        stripe_sub["status"] = "canceled"
        deleted = send(api, "evt_deleted", "customer.subscription.deleted", stripe_sub, T0 + 10)
        assert [e["action"] for e in deleted["effects"]] == ["subscription_mirrored"]
        sub = api.ok(api.get(f"/v1/subscriptions/{created['id']}"))
        assert (sub["status"], sub["next_due_at"]) == ("canceled", None)
        assert cancels_sent("stripe", shop.stripe) == 0  # mirrored, nothing asked back
