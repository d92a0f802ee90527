"""A subscription Stripe runs, for the provider-run tests over HTTP: a project that
chose ``provider`` on the fake Stripe Billing (``shop``), a plan mapped to a Stripe
price, and a subscription created through Tally and activated by Stripe's webhook
(``started``, or the fixture ``running``); with the reads the tests repeat."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest

from adapters.clock import FixedClock
from api.settings import Settings
from tests.e2e.billing import customer, plan, subscribe
from tests.e2e.conftest import Client
from tests.e2e.provider_shop import Shop, settle
from tests.e2e.stripe_billing_fake import PERIOD_START, FakeBilling, billing_shop, send

T0 = PERIOD_START + 60


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[tuple[Shop, FakeBilling]]:
    with billing_shop(settings, clock) as made:
        made[0].api.ok(made[0].api.post("/v1/subscription_runner", {"run_by": "provider"}))
        yield made


def mapped_plan(api: Client, code: str, amount: int, stripe_price: str) -> str:
    price_id = plan(api, code, amount)
    ids = {"provider_price_ids": {"stripe": stripe_price}}
    mapped = api.ok(api.post(f"/v1/prices/{price_id}/provider_price_ids", ids))
    assert mapped["price"]["provider_price_ids"] == {"stripe": stripe_price}
    return price_id


def started(shop: Shop, fake: FakeBilling) -> tuple[dict[str, Any], str, str]:
    """A subscription created through Tally and activated by Stripe's webhook; with its
    Stripe id and its plan's price."""
    api = shop.api
    ada = customer(api, "ada", email="ada@example.com")
    pro = mapped_plan(api, "PRO", 1000, "price_pro")
    created = subscribe(api, ada, pro)
    settle(api)
    sub = api.ok(api.get(f"/v1/subscriptions/{created['id']}"))
    ref = str(sub["provider_subscription"])
    fake.subscriptions[ref]["status"] = "active"
    send(api, "evt_active", "customer.subscription.updated", fake.subscriptions[ref], T0)
    return created, ref, pro


class Running(NamedTuple):
    """A subscription Stripe runs, ``started``: the shop, Stripe, the subscription as
    created and its Stripe id."""

    store: Shop
    fake: FakeBilling
    created: dict[str, Any]
    ref: str


@pytest.fixture
def running(shop: tuple[Shop, FakeBilling]) -> Running:
    store, fake = shop
    created, ref, _ = started(store, fake)
    return Running(store, fake, created, ref)


def invoices_of(api: Client, created: dict[str, Any]) -> list[dict[str, Any]]:
    """The Tally invoices of the subscription ``created``."""
    found = api.get("/v1/invoices", subscription_id=created["id"])
    listed: list[dict[str, Any]] = api.ok(found)["data"]
    return listed


def sub_of(api: Client, sub_id: str) -> dict[str, Any]:
    return api.ok(api.get(f"/v1/subscriptions/{sub_id}"))
