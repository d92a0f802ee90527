"""Prices by name over HTTP (issue 11, bug 2): a price reads back its lookup key, the
price list filters by it, and subscriptions name prices by lookup key or a plan code,
resolved at the API edge to the ids their commands carry."""

from __future__ import annotations

from typing import Any

from api.bootstrap import Tally
from tests.e2e.billing import customer, price, problem, product
from tests.e2e.conftest import Client, nothing_written


def _catalog(api: Client) -> dict[str, str]:
    """PRO with a monthly and a yearly EUR price and a monthly USD one; TEAM monthly."""
    pro, team = product(api, "PRO"), product(api, "TEAM")
    return {
        "pro_monthly_eur": price(api, pro, "pro_monthly_eur", unit_amount=2900),
        "pro_yearly_eur": price(api, pro, "pro_yearly_eur", unit_amount=29000, interval="year"),
        "pro_monthly_usd": price(api, pro, "pro_monthly_usd", unit_amount=3100, currency="USD"),
        "team_monthly_eur": price(api, team, "team_monthly_eur", unit_amount=9900),
    }


def _price_ids(subscription: dict[str, Any]) -> list[str]:
    return [item["price_id"] for item in subscription["items"]]


def test_a_price_answers_and_reads_back_its_lookup_key(api: Client) -> None:
    pro = product(api, "PRO")
    body = {
        "product_id": pro,
        "lookup_key": "pro_monthly_eur",
        "currency": "EUR",
        "scheme": "flat",
        "unit_amount": 2900,
        "interval": "month",
    }
    created = api.ok(api.post("/v1/prices", body), 201)
    assert created["lookup_key"] == "pro_monthly_eur"
    read = api.ok(api.get(f"/v1/prices/{created['id']}"))
    assert read["lookup_key"] == "pro_monthly_eur"
    plan = api.ok(api.get("/v1/plans/PRO"))
    assert [p["lookup_key"] for p in plan["prices"]] == ["pro_monthly_eur"]


def test_the_price_list_filters_by_lookup_key(api: Client) -> None:
    ids = _catalog(api)
    page = api.ok(api.get("/v1/prices", lookup_key="pro_yearly_eur"))
    assert [p["id"] for p in page["data"]] == [ids["pro_yearly_eur"]]
    assert api.ok(api.get("/v1/prices", lookup_key="nobody_uses_this"))["data"] == []
    # Another filter still applies with it.
    archived = api.get("/v1/prices", lookup_key="pro_yearly_eur", active="false")
    assert api.ok(archived)["data"] == []
    problem(api.get("/v1/prices", lookup_key="not a key"), 422, "validation_error")


def test_a_replaced_price_keeps_its_lookup_key_and_the_list_shows_both(api: Client) -> None:
    pro = product(api, "PRO")
    old = price(api, pro, "pro_monthly_eur", unit_amount=2900)
    price(api, pro, "pro_yearly_eur", unit_amount=29000, interval="year")
    new = price(api, pro, "pro_monthly_eur", unit_amount=3200)
    page = api.ok(api.get("/v1/prices", lookup_key="pro_monthly_eur"))
    assert [(p["id"], p["active"]) for p in page["data"]] == [(old, False), (new, True)]


def test_a_subscription_names_its_prices_by_lookup_key(api: Client) -> None:
    ids = _catalog(api)
    ada = customer(api, "ada")
    body = {"customer_id": ada, "items": [{"lookup_key": "pro_monthly_eur", "quantity": 2}]}
    sub = api.ok(api.post("/v1/subscriptions", body), 201)
    assert sub["items"] == [{"price_id": ids["pro_monthly_eur"], "quantity": 2, "amount": 2900}]
    # A plan change by lookup key too.
    change = {"items": [{"lookup_key": "team_monthly_eur"}], "proration": "none"}
    changed = api.ok(api.post(f"/v1/subscriptions/{sub['id']}/items", change))
    assert _price_ids(changed["subscription"]) == [ids["team_monthly_eur"]]


def test_a_subscription_names_a_plan_code(api: Client) -> None:
    ids = _catalog(api)
    ada = customer(api, "ada")
    by_plan = {"customer_id": ada, "plan": "TEAM"}
    sub = api.ok(api.post("/v1/subscriptions", by_plan), 201)
    assert _price_ids(sub) == [ids["team_monthly_eur"]]
    # PRO bills monthly and yearly in EUR: the interval picks one.
    yearly = {"customer_id": ada, "plan": "PRO", "interval": "year"}
    sub = api.ok(api.post("/v1/subscriptions", yearly), 201)
    assert (_price_ids(sub), sub["interval"]) == ([ids["pro_yearly_eur"]], "year")


def test_unknown_and_ambiguous_names_are_refused_with_nothing_written(
    api: Client, app_tally: Tally
) -> None:
    _catalog(api)
    other = product(api, "OTHER")
    price(api, other, "team_monthly_eur", unit_amount=100)  # a second product's same key
    ada = customer(api, "ada")
    post = api.post
    with nothing_written(app_tally):
        unknown = post("/v1/subscriptions", {"customer_id": ada, "items": [{"lookup_key": "x"}]})
        assert problem(unknown, 404, "not_found")["lookup_key"] == "x"
        shared = {"customer_id": ada, "items": [{"lookup_key": "team_monthly_eur"}]}
        problem(post("/v1/subscriptions", shared), 422, "ambiguous_price")
        both = {"customer_id": ada, "items": [{"price_id": ada, "lookup_key": "x"}]}
        problem(post("/v1/subscriptions", both), 422, "invalid_combination")
        neither = {"customer_id": ada, "items": [{"quantity": 2}]}
        problem(post("/v1/subscriptions", neither), 422, "invalid_combination")
        plan_and_items = {"customer_id": ada, "plan": "PRO", "items": [{"lookup_key": "x"}]}
        problem(post("/v1/subscriptions", plan_and_items), 422, "invalid_combination")
        problem(post("/v1/subscriptions", {"customer_id": ada}), 422, "invalid_combination")
        no_plan = {"customer_id": ada, "plan": "GOLD"}
        problem(post("/v1/subscriptions", no_plan), 404, "not_found")
        two_intervals = {"customer_id": ada, "plan": "PRO"}
        problem(post("/v1/subscriptions", two_intervals), 422, "ambiguous_price")
        weekly = {"customer_id": ada, "plan": "PRO", "interval": "week"}
        problem(post("/v1/subscriptions", weekly), 422, "no_matching_price")


def test_a_lookup_key_of_another_project_is_not_found(api: Client, other: Client) -> None:
    _catalog(other)
    ada = customer(api, "ada")
    body = {"customer_id": ada, "items": [{"lookup_key": "pro_monthly_eur"}]}
    problem(api.post("/v1/subscriptions", body), 404, "not_found")
    problem(api.post("/v1/subscriptions", {"customer_id": ada, "plan": "PRO"}), 404, "not_found")
    assert api.ok(api.get("/v1/prices", lookup_key="pro_monthly_eur"))["data"] == []
