"""Every bad subscription request is a clear 4xx problem, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest

from api.bootstrap import Tally
from tests.e2e.billing import customer, plan, price, problem, product, subscribe
from tests.e2e.conftest import Client, nothing_written

UNKNOWN = "00000000-0000-4000-8000-000000000001"


def _refused(
    api: Client, tally: Tally, path: str, body: Any, status: int, code: str
) -> dict[str, Any]:
    with nothing_written(tally):
        response = api.post(path, body)
    return problem(response, status, code)


def _items(price_id: str, quantity: Any = 1) -> list[dict[str, Any]]:
    return [{"price_id": price_id, "quantity": quantity}]


def test_unknown_price_is_404(api: Client, app_tally: Tally) -> None:
    body = {"customer_id": customer(api), "items": _items(UNKNOWN)}
    _refused(api, app_tally, "/v1/subscriptions", body, 404, "not_found")


def test_unknown_customer_is_404(api: Client, app_tally: Tally) -> None:
    body = {"customer_id": UNKNOWN, "items": _items(plan(api, "PRO", 1000))}
    _refused(api, app_tally, "/v1/subscriptions", body, 404, "not_found")


def test_archived_price_is_409(api: Client, app_tally: Tally) -> None:
    old = plan(api, "PRO", 1000)
    api.ok(api.post(f"/v1/prices/{old}/archive"))
    body = {"customer_id": customer(api), "items": _items(old)}
    found = _refused(api, app_tally, "/v1/subscriptions", body, 409, "price_archived")
    assert found["price_id"] == old


def test_replaced_price_is_archived_and_refused(api: Client, app_tally: Tally) -> None:
    old = plan(api, "PRO", 1000)
    new = plan(api, "PRO", 1200)
    assert new != old
    body = {"customer_id": customer(api), "items": _items(old)}
    _refused(api, app_tally, "/v1/subscriptions", body, 409, "price_archived")
    assert subscribe(api, customer(api), new)["items"][0]["amount"] == 1200


def test_price_currency_other_than_the_customers_is_422(api: Client, app_tally: Tally) -> None:
    usd = plan(api, "PRO", 1000, currency="USD")
    body = {"customer_id": customer(api), "items": _items(usd)}
    found = _refused(api, app_tally, "/v1/subscriptions", body, 422, "currency_mismatch")
    assert (found["price_currency"], found["customer_currency"]) == ("USD", "EUR")


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "2"])
def test_quantity_must_be_a_whole_number_above_zero(
    api: Client, app_tally: Tally, quantity: Any
) -> None:
    body = {"customer_id": customer(api), "items": _items(plan(api, "PRO", 1000), quantity)}
    found = _refused(api, app_tally, "/v1/subscriptions", body, 422, "validation_error")
    assert [e["field"] for e in found["errors"]] == ["items.0.quantity"]


def test_quantity_zero_in_a_change_is_refused(api: Client, app_tally: Tally) -> None:
    price_id = plan(api, "PRO", 1000)
    sub_id = subscribe(api, customer(api), price_id)["id"]
    body = {"items": _items(price_id, 0)}
    _refused(api, app_tally, f"/v1/subscriptions/{sub_id}/items", body, 422, "validation_error")


def test_trial_on_a_one_time_price_is_refused(api: Client, app_tally: Tally) -> None:
    setup = product(api, "SETUP")
    # A one-time price cannot carry default trial days...
    body = {
        "product_id": setup,
        "lookup_key": "setup",
        "currency": "EUR",
        "scheme": "flat",
        "unit_amount": 5000,
        "trial_days": 7,
    }
    found = _refused(api, app_tally, "/v1/prices", body, 422, "invalid_combination")
    assert "one-time" in found["detail"]
    # ...and a subscription with a trial on one is refused too.
    one_time = price(api, setup, "setup", unit_amount=5000, interval=None)
    sub = {"customer_id": customer(api), "items": _items(one_time), "trial_days": 7}
    found = _refused(api, app_tally, "/v1/subscriptions", sub, 422, "price_not_recurring")
    assert "one-time" in found["detail"]


def test_cancel_of_a_canceled_subscription_is_409(api: Client, app_tally: Tally) -> None:
    sub_id = subscribe(api, customer(api), plan(api, "PRO", 1000))["id"]
    api.ok(api.post(f"/v1/subscriptions/{sub_id}/cancel"))
    found = _refused(
        api, app_tally, f"/v1/subscriptions/{sub_id}/cancel", {}, 409, "invalid_transition"
    )
    assert found["state"] == "canceled"


def test_undo_without_a_scheduled_cancel_and_resume_of_an_active_are_409(
    api: Client, app_tally: Tally
) -> None:
    sub_id = subscribe(api, customer(api), plan(api, "PRO", 1000))["id"]
    for action in ("undo_cancel", "resume", "activate"):
        path = f"/v1/subscriptions/{sub_id}/{action}"
        _refused(api, app_tally, path, None, 409, "invalid_transition")


def test_extend_trial_of_an_active_subscription_is_409(api: Client, app_tally: Tally) -> None:
    sub_id = subscribe(api, customer(api), plan(api, "PRO", 1000))["id"]
    body = {"trial_end": "2100-01-01T00:00:00Z"}
    path = f"/v1/subscriptions/{sub_id}/extend_trial"
    _refused(api, app_tally, path, body, 409, "invalid_transition")


def test_mixed_intervals_and_a_repeated_price_are_422(api: Client, app_tally: Tally) -> None:
    monthly = plan(api, "PRO", 1000)
    yearly = price(api, product(api, "ADDON"), "addon_yearly", unit_amount=100, interval="year")
    customer_id = customer(api)
    body = {"customer_id": customer_id, "items": [*_items(monthly), *_items(yearly)]}
    _refused(api, app_tally, "/v1/subscriptions", body, 422, "invalid_combination")
    body = {"customer_id": customer_id, "items": [*_items(monthly), *_items(monthly)]}
    _refused(api, app_tally, "/v1/subscriptions", body, 422, "invalid_combination")


def test_bad_proration_mode_and_unknown_field_are_422(api: Client, app_tally: Tally) -> None:
    price_id = plan(api, "PRO", 1000)
    sub_id = subscribe(api, customer(api), price_id)["id"]
    path = f"/v1/subscriptions/{sub_id}/items"
    _refused(
        api,
        app_tally,
        path,
        {"items": _items(price_id), "proration": "maybe"},
        422,
        "validation_error",
    )
    body = {"customer_id": customer(api), "items": _items(price_id), "trial": 3}
    _refused(api, app_tally, "/v1/subscriptions", body, 422, "validation_error")


def test_other_projects_subscription_answers_404_and_writes_nothing(
    api: Client, other: Client, app_tally: Tally
) -> None:
    price_id = plan(api, "PRO", 1000)
    sub_id = subscribe(api, customer(api), price_id)["id"]
    bodies: dict[str, Any] = {"cancel": {}, "pause": {}, "items": {"items": _items(price_id)}}
    for action, body in bodies.items():
        _refused(other, app_tally, f"/v1/subscriptions/{sub_id}/{action}", body, 404, "not_found")
    # Nor can another project subscribe its customer to this project's price.
    foreign = {"customer_id": customer(other), "items": _items(price_id)}
    _refused(other, app_tally, "/v1/subscriptions", foreign, 404, "not_found")
    problem(other.get(f"/v1/subscriptions/{sub_id}"), 404, "not_found")
