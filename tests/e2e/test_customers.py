"""Customers over HTTP: register-or-retrieve, read by id and by external id, update, list,
entitlements, and the tenancy and validation refusals."""

from __future__ import annotations

from api.bootstrap import Tally
from tests.e2e.billing import customer, plan, price, problem, product, subscribe
from tests.e2e.conftest import Client, nothing_written

ADA = {"external_id": "user_42", "email": "ada@example.com", "name": "Ada", "currency": "EUR"}


def test_register_twice_answers_the_first_customer_and_writes_nothing(
    api: Client, app_tally: Tally
) -> None:
    first = api.post("/v1/customers", ADA)
    assert first.status_code == 201
    assert first.json()["existed"] is False
    with nothing_written(app_tally):
        second = api.post("/v1/customers", {**ADA, "email": "other@example.com"})
    assert second.status_code == 200
    assert second.json()["existed"] is True
    assert {**second.json(), "existed": False} == first.json()
    assert second.json()["email"] == "ada@example.com"


def test_register_with_the_same_idempotency_key_replays(api: Client, app_tally: Tally) -> None:
    first = api.post("/v1/customers", ADA, key="reg-1")
    with nothing_written(app_tally):
        again = api.post("/v1/customers", ADA, key="reg-1")
        reused = api.post("/v1/customers", {**ADA, "name": "Other"}, key="reg-1")
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.json() == first.json()
    problem(reused, 409, "idempotency_key_reused")


def test_get_by_id_and_by_external_id(api: Client) -> None:
    customer_id = api.ok(api.post("/v1/customers", ADA), 201)["id"]
    by_id = api.ok(api.get(f"/v1/customers/{customer_id}"))
    by_external = api.ok(api.get("/v1/customers/by_external_id/user_42"))
    assert by_id["id"] == by_external["id"] == customer_id
    assert (by_id["email"], by_id["currency"], by_id["external_id"]) == (
        "ada@example.com",
        "EUR",
        "user_42",
    )
    assert by_id["created_at"]
    problem(api.get("/v1/customers/by_external_id/nobody"), 404, "not_found")


def test_update_changes_only_the_given_fields(api: Client) -> None:
    customer_id = customer(api, "user_7", email="a@b.co", name="A", metadata={"k": "v"})
    updated = api.ok(api.post(f"/v1/customers/{customer_id}", {"name": "B"}))["customer"]
    assert (updated["name"], updated["email"], updated["metadata"]) == ("B", "a@b.co", {"k": "v"})
    read = api.ok(api.get(f"/v1/customers/{customer_id}"))
    assert (read["name"], read["email"]) == ("B", "a@b.co")


def test_bad_email_currency_and_unknown_fields_are_refused(api: Client, app_tally: Tally) -> None:
    with nothing_written(app_tally):
        problem(
            api.post("/v1/customers", {**ADA, "email": "not an email"}), 422, "validation_error"
        )
        problem(api.post("/v1/customers", {**ADA, "currency": "EUX"}), 422, "unknown_currency")
        problem(api.post("/v1/customers", {**ADA, "external": "x"}), 422, "validation_error")
        problem(api.post("/v1/customers", {**ADA, "external_id": ""}), 422, "validation_error")
    customer_id = customer(api)
    with nothing_written(app_tally):
        response = api.post(f"/v1/customers/{customer_id}", {"currency": "USD"})
    problem(response, 422, "validation_error")


def test_list_pages_with_starting_after_and_filters_by_email(api: Client) -> None:
    ids = [customer(api, f"u{i}", email=f"u{i}@example.com") for i in range(5)]
    first = api.ok(api.get("/v1/customers", limit=2))
    assert [c["id"] for c in first["data"]] == ids[:2]
    assert first["has_more"] is True
    second = api.ok(api.get("/v1/customers", limit=2, starting_after=ids[1]))
    assert [c["id"] for c in second["data"]] == ids[2:4]
    last = api.ok(api.get("/v1/customers", limit=2, starting_after=ids[3]))
    assert ([c["id"] for c in last["data"]], last["has_more"]) == (ids[4:], False)
    found = api.ok(api.get("/v1/customers", email="u3@example.com"))
    assert [c["id"] for c in found["data"]] == [ids[3]]


def test_other_projects_customer_answers_404(api: Client, other: Client, app_tally: Tally) -> None:
    customer_id = customer(api, "user_42")
    problem(other.get(f"/v1/customers/{customer_id}"), 404, "not_found")
    problem(other.get("/v1/customers/by_external_id/user_42"), 404, "not_found")
    problem(other.get(f"/v1/customers/{customer_id}/entitlements"), 404, "not_found")
    with nothing_written(app_tally):
        problem(other.post(f"/v1/customers/{customer_id}", {"name": "x"}), 404, "not_found")
    assert other.ok(other.get("/v1/customers"))["data"] == []
    # The same external id in another project is another customer.
    assert customer(other, "user_42") != customer_id


def test_entitlements_follow_the_subscriptions(api: Client) -> None:
    customer_id = customer(api)
    pro = product(api, "PRO", ["api", "sso"])
    seats = price(api, pro, "pro_seats", scheme="per_unit", unit_amount=500)
    addon = product(api, "AUDIT", ["audit_log", "api"])
    audit = price(api, addon, "audit_monthly", unit_amount=900)
    empty = api.ok(api.get(f"/v1/customers/{customer_id}/entitlements"))
    assert (empty["plans"], empty["features"], empty["seats"]) == ([], [], {})

    body = {
        "customer_id": customer_id,
        "items": [{"price_id": seats, "quantity": 5}, {"price_id": audit}],
    }
    sub = api.ok(api.post("/v1/subscriptions", body), 201)
    granted = api.ok(api.get(f"/v1/customers/{customer_id}/entitlements"))
    assert granted["customer_id"] == customer_id
    assert granted["features"] == ["api", "audit_log", "sso"]
    assert granted["seats"] == {"PRO": 5, "AUDIT": 1}
    assert {(p["code"], p["status"]) for p in granted["plans"]} == {
        ("PRO", "active"),
        ("AUDIT", "active"),
    }

    api.ok(api.post(f"/v1/subscriptions/{sub['id']}/cancel"))
    gone = api.ok(api.get(f"/v1/customers/{customer_id}/entitlements"))
    assert (gone["plans"], gone["features"], gone["seats"]) == ([], [], {})


def test_current_subscription_by_external_id(api: Client) -> None:
    customer_id = customer(api, "user_9")
    problem(api.get("/v1/customers/by_external_id/user_9/subscription"), 404, "not_found")
    problem(api.get("/v1/customers/by_external_id/nobody/subscription"), 404, "not_found")
    first = subscribe(api, customer_id, plan(api, "BASIC", 1000))
    api.ok(api.post(f"/v1/subscriptions/{first['id']}/cancel"))
    second = subscribe(api, customer_id, plan(api, "PRO", 3000))
    current = api.ok(api.get("/v1/customers/by_external_id/user_9/subscription"))
    assert current["id"] == second["id"]
    assert current["status"] == "active"
