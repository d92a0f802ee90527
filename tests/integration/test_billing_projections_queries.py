"""The billing queries: pages and filters, project scoping, the plan list, the current
subscription, what the scheduler is told is due, and entitlements as statuses change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from api.bootstrap import Tally
from commands import messages as m
from projections import catalog, customers, entitlements, subscriptions, test_clocks
from projections.runner import ProjectionWorker
from tests.integration.test_billing_projections import (
    T0,
    BillingDriver,
    BillingWorld,
    billing_workload,
    new_billing_project,
    projected,
)


def _all_pages(fetch: Any, **kw: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    after = None
    while True:
        page, has_more = fetch(limit=2, starting_after=after, **kw)
        rows += page
        if not has_more:
            return rows
        after = page[-1]["id"]


def test_lists_page_through_every_row_in_log_order_and_filter(tally: Tally) -> None:
    world = projected(tally)
    p, views, schema = world.project_id, tally.views, tally.schema

    def pages(query: Any, **kw: Any) -> list[str]:
        return [r["id"] for r in _all_pages(lambda **a: query(views, schema, p, **a), **kw)]

    assert pages(customers.list_customers) == [str(c) for c in world.customers.values()]
    assert pages(customers.list_customers, email="cy@example.com") == [str(world.customers["cy"])]
    assert pages(catalog.list_products, active=False) == [str(world.products["LEGACY"])]
    assert len(pages(catalog.list_products)) == 3
    pro = world.products["PRO"]
    names = {str(v): k for k, v in world.prices.items()}
    assert [names[i] for i in pages(catalog.list_prices, product_id=pro)] == [
        "pro_old",
        "pro",
        "seats",
        "setup",
    ]
    assert [names[i] for i in pages(catalog.list_prices, product_id=pro, active=True)] == [
        "pro",
        "seats",
        "setup",
    ]
    assert pages(subscriptions.list_subscriptions) == [str(s) for s in world.subs.values()]
    dee = pages(subscriptions.list_subscriptions, customer_id=world.customers["dee"])
    assert dee == [str(world.subs["ends"]), str(world.subs["kept"])]
    canceled = pages(subscriptions.list_subscriptions, status="canceled")
    assert canceled == [str(world.subs["canceled"]), str(world.subs["ends"])]
    assert pages(test_clocks.list_test_clocks) == [str(world.clock_id)]


def test_an_unknown_cursor_gives_an_empty_page(tally: Tally) -> None:
    world = projected(tally)
    page = customers.list_customers(
        tally.views, tally.schema, world.project_id, limit=5, starting_after=uuid4()
    )
    assert page == ([], False)


def test_another_projects_ids_are_not_found_and_its_lists_are_empty(tally: Tally) -> None:
    world = projected(tally)
    other = new_billing_project(tally, "other").project_id
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    views, schema = tally.views, tally.schema
    customer = world.customers["ada"]
    assert customers.get_customer(views, schema, other, customer) is None
    assert customers.get_customer_by_external_id(views, schema, other, "ada") is None
    assert catalog.get_product(views, schema, other, world.products["PRO"]) is None
    assert catalog.get_price(views, schema, other, world.prices["pro"]) is None
    assert subscriptions.get_subscription(views, schema, other, world.subs["trial"]) is None
    assert subscriptions.current_subscription(views, schema, other, "ada") is None
    assert test_clocks.get_test_clock(views, schema, other, world.clock_id) is None  # type: ignore[arg-type]
    assert catalog.list_plans(views, schema, other) == []
    assert entitlements.entitlements(views, schema, other, customer)["plans"] == []
    listed = customers.list_customers(
        views, schema, other, limit=10, starting_after=customer, email=None
    )
    assert listed == ([], False)
    assert (
        subscriptions.list_subscriptions(views, schema, other, limit=10, starting_after=None)[0]
        == []
    )


def test_plans_are_the_active_products_with_their_active_prices(tally: Tally) -> None:
    world = projected(tally)
    plans = catalog.list_plans(tally.views, tally.schema, world.project_id)
    assert [plan["code"] for plan in plans] == ["BASIC", "PRO"]
    basic, pro = plans
    assert basic["features"] == ["api", "exports"]
    ids = {name: str(price) for name, price in world.prices.items()}
    assert [price["id"] for price in pro["prices"]] == [ids["pro"], ids["seats"], ids["setup"]]
    assert all(price["active"] for plan in plans for price in plan["prices"])
    one = catalog.get_price(tally.views, tally.schema, world.project_id, world.prices["pro"])
    assert pro["prices"][0] == one


def test_customer_by_external_id_and_current_subscription(tally: Tally) -> None:
    world = projected(tally)
    p, views, schema = world.project_id, tally.views, tally.schema
    ada = customers.get_customer_by_external_id(views, schema, p, "ada")
    assert ada is not None
    assert (ada["id"], ada["email"]) == (str(world.customers["ada"]), "ada@new.example")
    assert customers.get_customer_by_external_id(views, schema, p, "nobody") is None

    def current(external_id: str) -> str | None:
        row = subscriptions.current_subscription(views, schema, p, external_id)
        return None if row is None else str(row["id"])

    # dee's newer subscription is the one left running.
    assert current("dee") == str(world.subs["kept"])
    assert current("cy") is None  # canceled
    # hal: the first expired; the newest one, still incomplete, is current.
    assert current("hal") == str(world.subs["waiting"])
    assert current("fay") == str(world.subs["paused"])


def test_due_subscriptions_are_exactly_those_due_on_the_system_clock(tally: Tally) -> None:
    world = projected(tally)
    get = tally.store.repository.get
    for now in (T0, T0 + timedelta(days=62), T0 + timedelta(days=100), T0 + timedelta(days=400)):
        due = subscriptions.due_subscriptions(tally.views, tally.schema, now, 100)
        expected = {
            (world.project_id, sid, get(sid).version)
            for sid in world.subs.values()
            if get(sid).test_clock_id is None
            and get(sid).next_due_at() is not None
            and get(sid).next_due_at() <= now
        }
        assert set(due) == expected
        moments = [get(sid).next_due_at() for _, sid, _ in due]
        assert moments == sorted(moments)
    # The clock's subscriptions are due by the system clock's measure, and not listed.
    far = subscriptions.due_subscriptions(tally.views, tally.schema, T0 + timedelta(days=999), 100)
    on_clock = {world.subs["clock_basic"], world.subs["clock_trial"]}
    assert not on_clock & {sid for _, sid, _ in far}
    assert (
        len(subscriptions.due_subscriptions(tally.views, tally.schema, T0 + timedelta(999), 2)) == 2
    )


def _entitled(tally: Tally, world: BillingWorld, customer: str) -> dict[str, Any]:
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    found: dict[str, Any] = entitlements.entitlements(
        tally.views, tally.schema, world.project_id, world.customers[customer]
    )
    return found


def test_entitlements_follow_the_subscription_status(tally: Tally) -> None:
    world = billing_workload(tally)
    d = BillingDriver(tally, world)
    d.customer("ivy")
    d.subscribe("ivy_trial", "ivy", {"pro": 1})
    trialing = _entitled(tally, world, "ivy")
    assert trialing["features"] == ["api", "sso"]
    assert trialing["plans"] == [
        {"code": "PRO", "name": "Pro", "subscription_id": str(world.subs["ivy_trial"]),
         "status": "trialing"}
    ]  # fmt: skip
    d.sub(m.CancelSubscription, "ivy_trial", T0 + timedelta(days=1))
    assert _entitled(tally, world, "ivy") == {
        "customer_id": str(world.customers["ivy"]),
        "plans": [],
        "features": [],
        "seats": {},
    }
    # past_due still grants; seats add up the quantities per plan code.
    bob = _entitled(tally, world, "bob")
    assert bob["seats"] == {"BASIC": 1, "PRO": 5}
    assert bob["features"] == ["api", "exports", "sso"]
    assert {p["status"] for p in bob["plans"]} == {"past_due"}
    assert _entitled(tally, world, "fay")["plans"] == []  # paused
    d.sub(m.ResumeSubscription, "paused", T0 + timedelta(days=20))
    assert _entitled(tally, world, "fay")["features"] == ["api", "exports"]


def test_entitlements_change_when_a_plan_is_revised(tally: Tally) -> None:
    world = billing_workload(tally)
    d = BillingDriver(tally, world)
    d.product("BASIC", ["api", "exports", "webhooks"])
    assert _entitled(tally, world, "dee")["features"] == ["api", "exports", "webhooks"]
    assert _entitled(tally, world, "dee")["seats"] == {"BASIC": 2}


def test_a_clock_advance_renewing_many_subscriptions_is_projected(tally: Tally) -> None:
    world = new_billing_project(tally)
    d = BillingDriver(tally, world)
    d.product("BASIC", ["api"])
    d.price("basic", "BASIC", 1000, interval="day")
    body = d.run(m.CreateTestClock(name="bulk", frozen_time=T0))
    clock = UUID(body["test_clock"]["id"])
    for i in range(50):
        d.customer(f"c{i}", test_clock_id=clock)
        d.subscribe(f"s{i}", f"c{i}", {"basic": 1})
    d.run(m.AdvanceTestClock(test_clock_id=clock, to=T0 + timedelta(days=30)))
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    get = tally.store.repository.get
    for sid in world.subs.values():
        row = subscriptions.get_subscription(tally.views, tally.schema, world.project_id, sid)
        assert row is not None
        assert row["next_due_at"] == (T0 + timedelta(days=31)).isoformat()
        assert row["next_due_at"] == get(sid).next_due_at().isoformat()
