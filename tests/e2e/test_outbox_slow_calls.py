"""Slow provider calls of one tenant do not starve another tenant's reads.

A call's claim (``adapters/outbox_claims.py``) holds a database connection while the
provider is called. It used to be a connection of the read models' pool (10 by default),
and a route waiting for a claim held one too while it slept: ten slow calls of one
project took every connection, and every project's reads waited for them (up to the
pool's 30 s timeout). Here ten charges hang at the provider, five more claimants wait
for them, and another project reads its account meanwhile."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from adapters.clock import FixedClock
from adapters.providers.base import ChargeOutcome, ChargeRequest
from adapters.providers.stub import SUCCEEDS, StubProvider
from api.settings import Settings
from commands.provider_errors import ProviderUnavailable
from tests.e2e.billing import customer
from tests.e2e.conftest import Client, head, make_client, serve
from tests.e2e.provider_shop import BACK, LINE, FakeStripe, outage, stripe_shop

SLOW_CALLS = 10
WAITERS = 5
HANG_S = 30.0


class Hanging:
    """The stub, unreachable while ``down``, then hanging each charge until ``release``."""

    def __init__(self, inner: StubProvider) -> None:
        self.inner = inner
        self.name = inner.name
        self.manages_subscriptions = inner.manages_subscriptions
        self.down = True
        self.release = threading.Event()
        self.in_flight = threading.Semaphore(0)

    def charge(self, request: ChargeRequest) -> ChargeOutcome:
        if self.down:
            raise ProviderUnavailable("connection refused", provider=self.name)
        self.in_flight.release()
        self.release.wait(HANG_S)
        return self.inner.charge(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[Client]:
    update = {"run_outbox": False, "pool_size": 10}
    with serve(settings.model_copy(update=update), clock) as client:
        yield client


def pending_charges(shop: Client, provider: Hanging) -> list[UUID]:
    shop.tally.providers.overrides[shop.project_id] = provider
    account = shop.open_account("ada")
    body = {"amount": 100, "currency": "EUR", "payment_method": f"stub_pm_{SUCCEEDS}"}
    calls = []
    for _ in range(SLOW_CALLS):
        topped = shop.ok(shop.post(f"/v1/accounts/{account}/top_ups", body), 201)
        assert topped["provider_call"]["state"] == "pending"
        calls.append(UUID(topped["provider_call"]["id"]))
    return calls


def timed_read(client: Client, path: str, limit_s: float) -> float | None:
    """Seconds the read took, or None if it had not answered within ``limit_s``."""
    took: list[float] = []

    def read() -> None:
        started = time.monotonic()
        client.ok(client.get(path))
        took.append(time.monotonic() - started)

    reader = threading.Thread(target=read)
    reader.start()
    reader.join(limit_s)
    return took[0] if took else None


def test_ten_slow_calls_of_one_tenant_leave_another_tenants_reads_answering(
    shop: Client,
) -> None:
    provider = Hanging(shop.tally.providers.default)
    calls = pending_charges(shop, provider)
    other = make_client(shop.http, shop.tally, "globex")
    theirs = other.open_account("bob")
    provider.down = False
    outbox = shop.tally.outbox
    holders = [
        threading.Thread(target=outbox.attempt, args=(shop.project_id, call)) for call in calls
    ]
    # Routes waiting for calls in flight (a retried request finds its call being made).
    waiters = [
        threading.Thread(target=outbox.attempt, args=(shop.project_id, call))
        for call in calls[:WAITERS]
    ]
    try:
        for thread in holders:
            thread.start()
        for _ in calls:
            assert provider.in_flight.acquire(timeout=10), "a charge never reached the provider"
        for thread in waiters:
            thread.start()
        time.sleep(0.2)  # the waiters are polling
        took = timed_read(other, f"/v1/accounts/{theirs}", 5.0)
    finally:
        provider.release.set()
        for thread in holders + waiters:
            thread.join(HANG_S)
    assert took is not None, "the other project's read waited for the slow calls"
    assert took < 2.0
    shop.position = head(shop.tally)  # the outcomes the threads recorded
    states = {shop.ok(shop.get(f"/v1/provider_calls/{call}"))["state"] for call in calls}
    assert states == {"succeeded"}


def test_a_pass_does_not_wait_for_a_customer_call_another_holder_is_making(
    settings: Settings, clock: FixedClock
) -> None:
    # A checkout for a new Stripe customer waits for its create_customer call. A pass
    # that finds both due used to wait up to 30 s for the customer call's claim while
    # holding the checkout's; now it defers the checkout and goes on.
    with stripe_shop(settings, clock, FakeStripe()) as shop:
        api = shop.api
        outage(shop, down=1)
        cy = customer(api, "cy", email="cy@example.com")
        body = {"customer_id": cy, "line": LINE, **BACK}
        checkout = api.ok(api.post("/v1/checkout/item", body), 201)["provider_call"]
        clock.advance(timedelta(seconds=1))
        outbox = api.tally.outbox
        with outbox.claims.claimed(UUID(checkout["waits_for"])) as held:
            assert held  # another route is making the customer call
            passing = threading.Thread(target=outbox.run_once)
            started = time.monotonic()
            passing.start()
            passing.join(5.0)
            took = time.monotonic() - started
        passing.join(HANG_S)
        assert took < 2.0, "the pass waited for the customer call"
        api.position = head(api.tally)
        deferred = api.ok(api.get(f"/v1/provider_calls/{checkout['id']}"))
        assert (deferred["state"], deferred["attempts"]) == ("pending", 0)
        assert shop.stripe.sent("POST", "/v1/checkout/sessions") == []
