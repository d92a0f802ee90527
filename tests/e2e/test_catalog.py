"""The catalog over HTTP: products by code, prices that are never edited, the plan list."""

from __future__ import annotations

from typing import Any

from api.bootstrap import Tally
from tests.e2e.billing import customer, price, problem, product, subscribe
from tests.e2e.conftest import Client, nothing_written

PRO = {"code": "PRO", "name": "Pro", "features": ["api", "sso"]}


def _price_body(of_product: str, **fields: Any) -> dict[str, Any]:
    return {
        "product_id": of_product,
        "lookup_key": "pro_monthly",
        "currency": "EUR",
        "scheme": "flat",
        "unit_amount": 2900,
        "interval": "month",
        **fields,
    }


def test_defining_a_product_again_revises_it_or_writes_nothing(
    api: Client, app_tally: Tally
) -> None:
    created = api.post("/v1/products", PRO)
    assert created.status_code == 201
    product_id = created.json()["id"]
    with nothing_written(app_tally):
        same = api.post("/v1/products", PRO)
    assert (same.status_code, same.json()["id"]) == (200, product_id)
    revised = api.ok(api.post("/v1/products", {**PRO, "features": ["api", "sso", "audit"]}))
    assert revised["features"] == ["api", "sso", "audit"]
    read = api.ok(api.get(f"/v1/products/{product_id}"))
    assert (read["code"], read["features"], read["active"]) == (
        "PRO",
        ["api", "sso", "audit"],
        True,
    )


def test_same_price_again_is_no_change_and_a_changed_one_archives_the_old(
    api: Client, app_tally: Tally
) -> None:
    product_id = product(api, "PRO")
    first = api.post("/v1/prices", _price_body(product_id))
    assert (first.status_code, first.json()["existed"]) == (201, False)
    old_id = first.json()["id"]
    with nothing_written(app_tally):
        again = api.post("/v1/prices", _price_body(product_id))
    assert (again.status_code, again.json()["existed"], again.json()["id"]) == (
        200,
        True,
        old_id,
    )

    changed = api.post("/v1/prices", _price_body(product_id, unit_amount=3200))
    assert changed.status_code == 201
    new_id = changed.json()["id"]
    assert new_id != old_id
    old = api.ok(api.get(f"/v1/prices/{old_id}"))
    assert (old["active"], old["unit_amount"]) == (False, 2900)
    new = api.ok(api.get(f"/v1/prices/{new_id}"))
    assert (new["active"], new["unit_amount"]) == (True, 3200)
    assert api.ok(api.get(f"/v1/products/{product_id}"))["prices"] == {"pro_monthly": new_id}
    # Going back to the archived definition is refused: it would un-archive a price.
    with nothing_written(app_tally):
        back = api.post("/v1/prices", _price_body(product_id))
    problem(back, 409, "price_archived")


def test_every_pricing_scheme_prices_a_subscription(api: Client) -> None:
    product_id = product(api, "SEATS")
    meter = {"code": "api_calls", "name": "API calls", "event_name": "call", "aggregation": "count"}
    api.ok(api.post("/v1/meters", meter), 201)
    tiers = [{"up_to": 10, "unit_amount": 500}, {"up_to": None, "unit_amount": 400}]
    cases: dict[str, tuple[dict[str, Any], int, int]] = {
        "flat": ({"unit_amount": 2900}, 3, 2900),
        "per_unit": ({"unit_amount": 700}, 3, 2100),
        "graduated": ({"tiers": tiers}, 12, 10 * 500 + 2 * 400),
        "volume": ({"tiers": tiers}, 12, 12 * 400),
        "metered": ({"unit_amount": 2, "meter": "api_calls"}, 1, 0),
    }
    for scheme, (fields, quantity, amount) in cases.items():
        price_id = price(api, product_id, f"seats_{scheme}", scheme=scheme, **fields)
        items = [{"price_id": price_id, "quantity": quantity}]
        body = {"customer_id": customer(api, scheme), "items": items}
        sub = api.ok(api.post("/v1/subscriptions", body), 201)
        assert sub["items"][0]["amount"] == amount, scheme


def test_price_refusals_write_nothing(api: Client, app_tally: Tally) -> None:
    product_id = product(api, "PRO")
    bad: list[tuple[dict[str, Any], str]] = [
        ({"scheme": "graduated", "tiers": []}, "invalid_combination"),
        ({"scheme": "graduated", "tiers": [{"up_to": 5, "unit_amount": 1}]}, "invalid_combination"),
        ({"scheme": "metered", "meter": ""}, "invalid_combination"),
        ({"scheme": "metered", "meter": "no_such_meter"}, "unknown_meter"),
        ({"scheme": "tiered"}, "validation_error"),
        ({"unit_amount": -1}, "validation_error"),
        ({"unit_amount": 12.5}, "validation_error"),
        ({"currency": "EUX"}, "unknown_currency"),
        ({"interval": "fortnight"}, "validation_error"),
        ({"product_id": "00000000-0000-4000-8000-000000000001"}, "not_found"),
    ]
    for fields, code in bad:
        status = 404 if code == "not_found" else 422
        with nothing_written(app_tally):
            response = api.post("/v1/prices", _price_body(product_id, **fields))
        problem(response, status, code)


def test_plans_list_active_products_with_their_active_prices(api: Client) -> None:
    pro = product(api, "PRO", ["api", "sso"])
    monthly = price(api, pro, "pro_monthly", unit_amount=2900)
    yearly = price(api, pro, "pro_yearly", unit_amount=29000, interval="year")
    price(api, pro, "pro_old", unit_amount=100)
    api.ok(api.post(f"/v1/prices/{price(api, pro, 'pro_old', unit_amount=100)}/archive"))
    legacy = product(api, "LEGACY")
    price(api, legacy, "legacy_monthly", unit_amount=500)
    api.ok(api.post(f"/v1/products/{legacy}/archive"))

    plans = api.ok(api.get("/v1/plans"))["data"]
    assert [p["code"] for p in plans] == ["PRO"]
    assert plans[0]["features"] == ["api", "sso"]
    assert {p["id"] for p in plans[0]["prices"]} == {monthly, yearly}
    one = api.ok(api.get("/v1/plans/PRO"))
    assert one["id"] == pro
    problem(api.get("/v1/plans/LEGACY"), 404, "not_found")


def test_lists_page_and_filter(api: Client) -> None:
    ids = [product(api, code) for code in ("A", "B", "C")]
    api.ok(api.post(f"/v1/products/{ids[1]}/archive"))
    first = api.ok(api.get("/v1/products", limit=2))
    assert ([p["id"] for p in first["data"]], first["has_more"]) == (ids[:2], True)
    rest = api.ok(api.get("/v1/products", limit=2, starting_after=ids[1]))
    assert ([p["id"] for p in rest["data"]], rest["has_more"]) == (ids[2:], False)
    active = api.ok(api.get("/v1/products", active=True))
    assert [p["id"] for p in active["data"]] == [ids[0], ids[2]]

    a_prices = [price(api, ids[0], f"a{i}", unit_amount=100 + i) for i in range(3)]
    price(api, ids[2], "c0", unit_amount=100)
    listed = api.ok(api.get("/v1/prices", product_id=ids[0], limit=10))
    assert [p["id"] for p in listed["data"]] == a_prices


def test_other_projects_catalog_answers_404(api: Client, other: Client, app_tally: Tally) -> None:
    product_id = product(api, "PRO")
    price_id = price(api, product_id, "pro_monthly", unit_amount=100)
    problem(other.get(f"/v1/products/{product_id}"), 404, "not_found")
    problem(other.get(f"/v1/prices/{price_id}"), 404, "not_found")
    assert other.ok(other.get("/v1/plans"))["data"] == []
    with nothing_written(app_tally):
        problem(other.post(f"/v1/prices/{price_id}/archive"), 404, "not_found")
        problem(other.post(f"/v1/products/{product_id}/archive"), 404, "not_found")
        problem(other.post("/v1/prices", _price_body(product_id)), 404, "not_found")
    assert subscribe(api, customer(api), price_id)["status"] == "active"
