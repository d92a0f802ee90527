"""The upcoming invoice of a subscription over HTTP, in the situations that shape it: a
trial, a tiered price, a coupon on the subscription or its customer, the project's tax
(an archived default rate left out), a quantity change with proration, a change kept for
the period's end, cancellation at period end, a pause; and on a test clock, the invoice
that then comes is the one it announced."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from api.bootstrap import Tally
from tests.e2e.billing import START, clock, customer, plan, price, problem, product, subscribe
from tests.e2e.billing import sandbox as sandbox  # the fixture
from tests.e2e.conftest import Client, nothing_written
from tests.e2e.invoicing import coupon, tax_rate

TIERS = [{"up_to": 10, "unit_amount": 500}, {"up_to": None, "unit_amount": 400}]
# What the upcoming invoice and the invoice that then comes have in common: everything
# but what only issuing it gives (id, number, status, dates, payments, its description).
SAME = (
    "customer_id",
    "subscription_id",
    "currency",
    "period_start",
    "period_end",
    "lines",
    "tax_rates",
    "coupon",
    "subtotal",
    "discount",
    "tax",
    "tax_by_rate",
    "total",
)


def _upcoming(api: Client, sub_id: str) -> dict[str, Any] | None:
    path = f"/v1/subscriptions/{sub_id}/upcoming_invoice"
    with nothing_written(api.tally):
        found: dict[str, Any] | None = api.ok(api.get(path))["upcoming_invoice"]
    return found


def _advance(api: Client, clock_id: str, days: float) -> dict[str, Any]:
    to = (START + timedelta(days=days)).isoformat()
    return api.ok(api.post(f"/v1/test_clocks/{clock_id}/advance", {"to": to}))


def _invoices(api: Client, sub_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.ok(api.get("/v1/invoices", subscription_id=sub_id))["data"]
    return found


def _same(upcoming: dict[str, Any], issued: dict[str, Any]) -> None:
    assert {k: upcoming[k] for k in SAME} == {k: issued[k] for k in SAME}


def test_after_a_trial_the_first_period_with_tiers_tax_and_the_subscriptions_coupon(
    sandbox: Client,
) -> None:
    api = sandbox
    vat = tax_rate(api, "19", jurisdiction="DE", name="VAT")
    api.ok(api.post("/v1/billing_settings", {"default_tax_rate_ids": [vat]}))
    coupon(api, "LAUNCH10", percent_off="10", duration="forever")
    clock_id = clock(api)
    buyer = customer(api, "ada", test_clock_id=clock_id)
    pro = plan(api, "PRO", 2900)
    seats = price(api, product(api, "SEATS"), "seats_monthly", scheme="graduated", tiers=TIERS)
    items = [{"price_id": pro}, {"price_id": seats, "quantity": 12}]
    body = {"customer_id": buyer, "items": items, "trial_days": 14}
    sub = api.ok(api.post("/v1/subscriptions", body), 201)
    api.ok(api.post(f"/v1/subscriptions/{sub['id']}/coupon", {"coupon_code": "LAUNCH10"}))

    upcoming = _upcoming(api, sub["id"])
    assert upcoming is not None
    assert (upcoming["id"], upcoming["number"], upcoming["status"]) == (None, None, "draft")
    assert upcoming["version"] is None
    assert upcoming["description"] == "Upcoming invoice"
    assert (upcoming["period_start"], upcoming["period_end"]) == (
        "2030-02-14T09:00:00.000000Z",
        "2030-03-14T09:00:00.000000Z",
    )
    described = [(li["description"], li["quantity"], li["amount"]) for li in upcoming["lines"]]
    assert described == [("Pro, monthly", 1, 2900), ("Seats, monthly", 12, 5800)]
    assert [t["amount"] for t in upcoming["lines"][1]["tiers"]] == [5000, 800]
    assert upcoming["coupon"]["code"] == "LAUNCH10"
    assert (upcoming["subtotal"], upcoming["discount"], upcoming["tax"]) == (8700, 870, 1488)
    assert (upcoming["total"], upcoming["amount_due"]) == (9318, 9318)
    assert upcoming["tax_by_rate"] == {vat: 1488}
    assert (upcoming["collection"], upcoming["collection_reason"]) == (
        "none",
        "no_auto_charge_provider",
    )
    assert _invoices(api, sub["id"]) == []  # a trial bills nothing yet

    _advance(api, clock_id, 14)
    (issued,) = _invoices(api, sub["id"])
    _same(upcoming, issued)


def test_a_quantity_change_brings_its_proration_and_the_customers_coupon_to_the_renewal(
    sandbox: Client,
) -> None:
    api = sandbox
    clock_id = clock(api)
    buyer = customer(api, "bob", test_clock_id=clock_id)
    coupon(api, "FIVE", amount_off=500, currency="EUR", duration="repeating", duration_periods=2)
    api.ok(api.post(f"/v1/customers/{buyer}/coupon", {"coupon_code": "FIVE"}))
    seats = price(api, product(api, "SEATS"), "seats", scheme="per_unit", unit_amount=1000)
    sub_id = subscribe(api, buyer, seats)["id"]
    (first,) = _invoices(api, sub_id)
    assert first["discount"] == 500  # the first of the coupon's two periods

    _advance(api, clock_id, 15)
    change = {"items": [{"price_id": seats, "quantity": 3}], "proration": "prorate"}
    changed = api.ok(api.post(f"/v1/subscriptions/{sub_id}/items", change))["subscription"]
    proration = [line["amount"] for line in changed["proration_lines"]]
    assert proration[0] < 0 < proration[1]

    upcoming = _upcoming(api, sub_id)
    assert upcoming is not None
    assert [li["kind"] for li in upcoming["lines"]] == ["subscription", "proration", "proration"]
    assert [li["amount"] for li in upcoming["lines"]] == [3000, *proration]
    assert upcoming["lines"][0]["quantity"] == 3
    assert upcoming["period_start"] == "2030-02-28T09:00:00.000000Z"
    assert (upcoming["coupon"]["code"], upcoming["discount"]) == ("FIVE", 500)
    assert (upcoming["tax"], upcoming["tax_rates"]) == (0, {})
    assert upcoming["total"] == 3000 + sum(proration) - 500

    _advance(api, clock_id, 29)
    renewal = _invoices(api, sub_id)[-1]
    _same(upcoming, renewal)
    # The coupon's periods are used up: the next renewal has none.
    after = _upcoming(api, sub_id)
    assert after is not None
    assert (after["coupon"], after["discount"], after["total"]) == (None, 0, 3000)


def test_a_change_kept_for_the_periods_end_is_what_the_renewal_bills(sandbox: Client) -> None:
    api = sandbox
    clock_id = clock(api)
    basic, pro = plan(api, "BASIC", 1000), plan(api, "PRO", 3100)
    sub_id = subscribe(api, customer(api, "cy", test_clock_id=clock_id), basic)["id"]
    _advance(api, clock_id, 3)
    change = {"items": [{"price_id": pro}], "proration": "period_end"}
    api.ok(api.post(f"/v1/subscriptions/{sub_id}/items", change))

    upcoming = _upcoming(api, sub_id)
    assert upcoming is not None
    assert [(li["description"], li["amount"]) for li in upcoming["lines"]] == [
        ("Pro, monthly", 3100)
    ]
    _advance(api, clock_id, 30)
    _same(upcoming, _invoices(api, sub_id)[-1])


def test_an_archived_default_tax_rate_is_left_out(api: Client) -> None:
    kept, archived = tax_rate(api, "10"), tax_rate(api, "5", inclusive=True)
    api.ok(api.post("/v1/billing_settings", {"default_tax_rate_ids": [kept, archived]}))
    sub_id = subscribe(api, customer(api), plan(api, "PRO", 2000))["id"]
    before = _upcoming(api, sub_id)
    assert before is not None
    assert (set(before["tax_by_rate"]), before["tax"]) == ({kept, archived}, 200 + 95)

    api.ok(api.post(f"/v1/tax_rates/{archived}/archive"))
    after = _upcoming(api, sub_id)
    assert after is not None
    assert (after["tax_by_rate"], after["total"]) == ({kept: 200}, 2200)
    assert after["lines"][0]["tax_rate_ids"] == [kept]


def test_none_comes_after_cancel_at_period_end_a_pause_or_an_end(api: Client) -> None:
    pro = plan(api, "PRO", 1000)
    at_end = subscribe(api, customer(api, "u1"), pro)["id"]
    api.ok(api.post(f"/v1/subscriptions/{at_end}/cancel", {"at_period_end": True}))
    assert _upcoming(api, at_end) is None
    api.ok(api.post(f"/v1/subscriptions/{at_end}/undo_cancel"))
    assert _upcoming(api, at_end) is not None

    paused = subscribe(api, customer(api, "u2"), pro)["id"]
    api.ok(api.post(f"/v1/subscriptions/{paused}/pause", {}))
    assert _upcoming(api, paused) is None


def test_another_projects_or_an_unknown_subscription_answers_404(
    api: Client, other: Client, app_tally: Tally
) -> None:
    sub_id = subscribe(api, customer(api), plan(api, "PRO", 1000))["id"]
    problem(other.get(f"/v1/subscriptions/{sub_id}/upcoming_invoice"), 404, "not_found")
    unknown = "00000000-0000-4000-8000-000000000000"
    problem(api.get(f"/v1/subscriptions/{unknown}/upcoming_invoice"), 404, "not_found")
