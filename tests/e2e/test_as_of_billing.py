"""``as_of`` on an invoice, a customer's subscriptions (list and one) and entitlements
(docs/audit.md "Point in time"): what each answered live at every position of a
history equals what it answers ``as_of`` that position afterwards; before a resource
existed it is 404; another project's ids are 404 at any position."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from fastapi import Response

from api.as_of import PointInTime
from api.as_of_reads import entitlements_as_of, subscriptions_page
from domain.errors import LimitReached
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


def _at(api: Client) -> PointInTime:
    return PointInTime(api.tally, str(api.position), Response())


def test_as_of_rebuilds_only_a_page_and_each_price_once(api: Client) -> None:
    pro = plan(api, "PRO", 1_000)
    buyer = customer(api, "many_subs")
    subs = [subscribe(api, buyer, pro)["id"] for _ in range(3)]
    api.ok(api.post(f"/v1/subscriptions/{subs[1]}/cancel", {}))
    project, customer_id = api.project_id, UUID(buyer)
    pages: list[str] = []
    after: UUID | None = None
    while True:
        at = _at(api)
        rows, more = subscriptions_page(
            api.tally, at, project, customer_id=customer_id, status=None, limit=1,
            starting_after=after,
        )  # fmt: skip
        # One subscription, the billing settings and the customer's payment methods.
        assert at.rebuilds == 3
        pages += [r["id"] for r in rows]
        if not more:
            break
        after = UUID(rows[-1]["id"])
    assert pages == subs
    listed = api.ok(api.get("/v1/subscriptions", customer_id=buyer, as_of=str(api.position)))
    assert [r["id"] for r in listed["data"]] == subs
    # By status then: the canceled one is skipped, the page stops at limit + 1 found.
    at = _at(api)
    rows, more = subscriptions_page(
        api.tally, at, project, customer_id=customer_id, status="active", limit=1,
        starting_after=None,
    )  # fmt: skip
    assert ([r["id"] for r in rows], more) == ([subs[0]], True)
    assert at.rebuilds == 3 + 2  # subs 0, 1 and 2 looked at, then the collection's two
    at = _at(api)
    rows, more = subscriptions_page(
        api.tally, at, project, customer_id=customer_id, status="active", limit=1,
        starting_after=UUID(subs[0]),
    )  # fmt: skip
    assert ([r["id"] for r in rows], more) == ([subs[2]], False)
    # Entitlements: three subscriptions, their one price and one product rebuilt once.
    at = _at(api)
    granted = entitlements_as_of(api.tally, at, project, customer_id)
    assert at.rebuilds == 3 + 2
    assert granted == api.ok(api.get(f"/v1/customers/{buyer}/entitlements"))
    # Bounded: more subscriptions than a request may rebuild is refused before any is.
    at = _at(api)
    with pytest.raises(LimitReached):
        entitlements_as_of(api.tally, at, project, customer_id, most=2)
    assert at.rebuilds == 0
    with pytest.raises(LimitReached):
        subscriptions_page(
            api.tally, _at(api), project, customer_id=customer_id, status="past_due",
            limit=5, starting_after=None, most=2,
        )  # fmt: skip
