"""``as_of`` on an invoice, a customer's subscriptions (list and one) and entitlements
(docs/audit.md "Point in time"): what each answered live at every position of a
history equals what it answers ``as_of`` that position afterwards; before a resource
existed it is 404; another project's ids are 404 at any position."""

from __future__ import annotations

from typing import Any

from tests.e2e.billing import customer, plan, problem, product, subscribe
from tests.e2e.conftest import Client
from tests.e2e.invoicing import act, draft, line


def test_invoice_as_of_equals_its_live_answer_at_each_position(api: Client, other: Client) -> None:
    buyer = customer(api, "inv_buyer")
    before = api.position
    invoice = draft(api, buyer, line("Work", 10_000))
    path = f"/v1/invoices/{invoice['id']}"
    seen: dict[int, Any] = {api.position: api.ok(api.get(path))}
    steps = [
        ("lines", line("More work", 2_500)),
        ("finalize", None),
        ("pay", {"method": "out_of_band", "amount": 4_000, "reference": "wire 1"}),
        ("pay", {"method": "out_of_band", "reference": "wire 2"}),
    ]
    for action, body in steps:
        act(api, invoice["id"], action, body)
        seen[api.position] = api.ok(api.get(path))
    assert [v["status"] for v in seen.values()] == ["draft", "draft", "open", "open", "paid"]
    for position, live in seen.items():
        past = api.get(path, as_of=str(position))
        assert api.ok(past) == live, position
        assert past.headers["Tally-As-Of-Position"] == str(position)
    assert api.get(path, as_of=str(before)).status_code == 404
    assert other.get(path, as_of=str(api.position)).status_code == 404


def _live(api: Client, buyer: str, subscription_id: str) -> tuple[Any, Any, Any]:
    listed = api.ok(api.get("/v1/subscriptions", customer_id=buyer))
    one = api.ok(api.get(f"/v1/subscriptions/{subscription_id}"))
    granted = api.ok(api.get(f"/v1/customers/{buyer}/entitlements"))
    return listed, one, granted


def _past(api: Client, buyer: str, subscription_id: str, position: int) -> tuple[Any, Any, Any]:
    at = str(position)
    listed = api.ok(api.get("/v1/subscriptions", customer_id=buyer, as_of=at))
    one = api.ok(api.get(f"/v1/subscriptions/{subscription_id}", as_of=at))
    granted = api.ok(api.get(f"/v1/customers/{buyer}/entitlements", as_of=at))
    return listed, one, granted


def test_subscriptions_and_entitlements_as_of_equal_their_live_answers(
    api: Client, other: Client
) -> None:
    pro = plan(api, "PRO", 1_000)
    team_product = product(api, "TEAM", ["sso", "audit_log"])
    team = api.ok(
        api.post(
            "/v1/prices",
            {
                "product_id": team_product,
                "lookup_key": "team_monthly",
                "currency": "EUR",
                "scheme": "flat",
                "interval": "month",
                "unit_amount": 3_000,
            },
        ),
        201,
    )["id"]
    before_buyer = api.position
    buyer = customer(api, "sub_buyer")
    first = subscribe(api, buyer, pro)["id"]
    seen = {api.position: _live(api, buyer, first)}
    base = f"/v1/subscriptions/{first}"
    api.ok(api.post(f"{base}/items", {"items": [{"price_id": team, "quantity": 3}]}))
    seen[api.position] = _live(api, buyer, first)
    second = subscribe(api, buyer, pro)["id"]
    seen[api.position] = _live(api, buyer, first)
    api.ok(api.post(f"{base}/cancel", {}))
    seen[api.position] = _live(api, buyer, first)
    assert seen[api.position][2]["plans"] == [
        {"code": "PRO", "name": "Pro", "subscription_id": second, "status": "active"}
    ]
    for position, live in seen.items():
        assert _past(api, buyer, first, position) == live, position
    # Before the customer existed: 404 for its entitlements and its subscription.
    assert (
        api.get(f"/v1/customers/{buyer}/entitlements", as_of=str(before_buyer)).status_code == 404
    )
    assert api.get(base, as_of=str(before_buyer)).status_code == 404
    # The list as_of needs the customer; another project sees nothing of these.
    problem(api.get("/v1/subscriptions", as_of="1"), 422, "invalid_combination")
    assert other.get(base, as_of=str(api.position)).status_code == 404
    theirs = other.get(f"/v1/customers/{buyer}/entitlements", as_of=str(api.position))
    assert theirs.status_code == 404
    listed = other.ok(other.get("/v1/subscriptions", customer_id=buyer, as_of=str(api.position)))
    assert listed["data"] == []
