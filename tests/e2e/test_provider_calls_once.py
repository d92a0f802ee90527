"""Each provider call goes out once (issue 18, item 3), for a project on Stripe (the real
adapter and SDK against a fake Stripe API on 127.0.0.1 that counts what it receives).

A route makes its call right after the commit, and the outbox worker's pass picks up
every pending call it finds due: before the fix both made the same call when the pass
came while the route's request was still in flight (a refund sent twice within about
10 ms, with the same idempotency key). Here the fake runs the worker's pass *inside*
the first request it receives, so the race happens every time, and the test counts the
requests that reached the provider."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adapters.clock import FixedClock
from api.settings import Settings
from tests.e2e.billing import customer
from tests.e2e.provider_shop import Shop, settle, stripe_shop
from tests.e2e.test_invoice_charges_stripe import FakeStripeWithRefunds
from tests.integration.provider_fake import Reply, Seen


class RacingStripe(FakeStripeWithRefunds):
    """Runs ``during`` (the outbox worker's pass) while it holds the first request of
    each path in ``racing``, then answers that request."""

    def __init__(self) -> None:
        super().__init__()
        self.racing: set[str] = set()
        self.during: Callable[[], Any] = lambda: None
        self.raced: list[str] = []
        self._race_lock = threading.Lock()

    def __call__(self, seen: Seen) -> Reply:
        with self._race_lock:
            first = seen.path in self.racing and seen.path not in self.raced
            if first:
                self.raced.append(seen.path)
        if first:
            self.during()
        return super().__call__(seen)


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[Shop]:
    fake = RacingStripe()
    with stripe_shop(settings, clock, fake) as made:
        # The worker's pass, as the background thread runs it: it waits for the read
        # models to reach the head, so it sees the call the route is making, and never
        # waits for a call another holder is making (a drain does, and here it would
        # hold the fake's answer the route is waiting for).
        fake.during = made.api.tally.outbox.run_pass
        yield made


def race(shop: Shop, *paths: str) -> None:
    assert isinstance(shop.fake, RacingStripe)
    shop.fake.racing = set(paths)


def posted(shop: Shop, path: str) -> int:
    return len(shop.stripe.sent("POST", path))


def wallet_charged(shop: Shop) -> tuple[str, dict[str, Any]]:
    """A customer's wallet topped up off-session with a saved card: the charge's answer."""
    api = shop.api
    ida = customer(api, "ida", email="ida@example.com")
    wallet = api.open_account(owner=ida)
    body = {"amount": 1200, "currency": "EUR", "payment_method": "pm_visa"}
    topped = api.ok(api.post(f"/v1/accounts/{wallet}/top_ups", body), 201)
    return ida, topped


def test_a_customer_and_a_charge_made_by_the_route_are_sent_once_while_the_worker_passes(
    shop: Shop,
) -> None:
    race(shop, "/v1/customers", "/v1/payment_intents")
    _, topped = wallet_charged(shop)
    assert shop.fake.raced == ["/v1/customers", "/v1/payment_intents"]  # type: ignore[attr-defined]
    assert posted(shop, "/v1/customers") == 1
    assert posted(shop, "/v1/payment_intents") == 1
    # The route waited for the call in flight and answers its outcome, not "pending".
    assert topped["provider_call"]["state"] == "succeeded"
    settle(shop.api)
    assert posted(shop, "/v1/customers") == 1
    assert posted(shop, "/v1/payment_intents") == 1


def test_a_refund_is_sent_once_while_the_worker_passes(shop: Shop) -> None:
    api = shop.api
    _, topped = wallet_charged(shop)
    settle(api)
    txn = topped["transaction"]["id"]
    race(shop, "/v1/refunds")
    refunded = api.ok(api.post(f"/v1/transactions/{txn}/refunds", {"amount": 500}), 202)
    assert shop.fake.raced == ["/v1/refunds"]  # type: ignore[attr-defined]
    assert posted(shop, "/v1/refunds") == 1
    assert refunded["provider_call"]["state"] == "succeeded"
    settle(api)
    assert posted(shop, "/v1/refunds") == 1
    reversed_ = api.ok(api.get(f"/v1/transactions/{txn}"))
    assert reversed_["reversed_amount"] == 500
