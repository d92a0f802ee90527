"""Billing setup over HTTP: tax rates and coupons defined, read, listed and archived;
promotion codes; billing settings; a customer's credit balance adjusted and used; the
trial balance; and tenancy of all of them."""

from __future__ import annotations

from tests.e2e.billing import customer, problem
from tests.e2e.conftest import Client, nothing_written
from tests.e2e.invoicing import act, coupon, draft, line, tax_rate


def test_tax_rates_are_defined_read_listed_and_archived(api: Client) -> None:
    vat = tax_rate(api, "19", jurisdiction="DE", name="MwSt")
    reduced = tax_rate(api, "7", jurisdiction="DE")
    read = api.ok(api.get(f"/v1/tax_rates/{vat}"))
    assert (read["percentage"], read["name"], read["active"]) == ("19", "MwSt", True)
    archived = api.ok(api.post(f"/v1/tax_rates/{reduced}/archive"))["tax_rate"]
    assert archived["active"] is False
    listed = api.ok(api.get("/v1/tax_rates"))["data"]
    assert [r["id"] for r in listed] == [vat, reduced]
    active = api.ok(api.get("/v1/tax_rates", active="true"))["data"]
    assert [r["id"] for r in active] == [vat]
    invoice = draft(api)
    archived_line = line("x", 1, tax_rate_ids=[reduced])
    with nothing_written(api.tally):
        response = api.post(f"/v1/invoices/{invoice['id']}/lines", archived_line)
    assert "archived" in problem(response, 409, "tax_rate_archived")["detail"]


def test_coupons_are_defined_read_listed_and_archived(api: Client) -> None:
    coupon(api, "SPRING", percent_off="25")
    fixed = coupon(
        api, "FIVE", amount_off=500, currency="EUR", duration="repeating", duration_periods=3
    )
    assert (fixed["amount_off"], fixed["duration_periods"]) == (500, 3)
    read = api.ok(api.get("/v1/coupons/SPRING"))
    assert (read["percent_off"], read["times_redeemed"]) == ("25", 0)
    problem(api.get("/v1/coupons/NOPE"), 404, "not_found")
    with nothing_written(api.tally):
        problem(
            api.post("/v1/coupons", {"code": "SPRING", "percent_off": "5"}), 409, "already_exists"
        )
    assert api.ok(api.post("/v1/coupons/FIVE/archive"))["coupon"]["active"] is False
    codes = [c["code"] for c in api.ok(api.get("/v1/coupons"))["data"]]
    assert codes == ["SPRING", "FIVE"]
    invoice = draft(api, None, line("x", 1000))
    with nothing_written(api.tally):
        refused = api.post(f"/v1/invoices/{invoice['id']}/coupon", {"coupon_code": "FIVE"})
    problem(refused, 409, "coupon_unavailable")


def test_promotion_codes_redeem_their_coupon_and_are_listed(api: Client) -> None:
    spring = coupon(api, "SPRING", percent_off="25")
    made = api.ok(
        api.post("/v1/promotion_codes", {"code": "FRIENDS", "coupon_code": "SPRING"}), 201
    )
    assert made["coupon"]["code"] == "SPRING"
    invoice = draft(api, None, line("x", 1000))
    applied = act(api, invoice["id"], "coupon", {"promotion_code": "FRIENDS"})["invoice"]
    assert (applied["discount"], applied["total"]) == (250, 750)
    listed = api.ok(api.get("/v1/promotion_codes", coupon_id=spring["id"]))["data"]
    assert [(p["code"], p["times_redeemed"]) for p in listed] == [("FRIENDS", 1)]


def test_billing_settings_default_then_configured_and_used_for_numbers(api: Client) -> None:
    defaults = api.ok(api.get("/v1/billing_settings"))
    assert (defaults["invoice_prefix"], defaults["retry_days"]) == ("INV", [3, 5, 7])
    vat = tax_rate(api, "19")
    body = {"invoice_prefix": "ACME", "retry_days": [1, 2], "default_tax_rate_ids": [vat]}
    configured = api.ok(api.post("/v1/billing_settings", body))["billing_settings"]
    assert (configured["invoice_prefix"], configured["final_action"]) == ("ACME", "canceled")
    read = api.ok(api.get("/v1/billing_settings"))
    assert (read["retry_days"], read["default_tax_rate_ids"]) == ([1, 2], [vat])
    invoice = draft(api, None, line("x", 1000))
    final = act(api, invoice["id"], "finalize")["invoice"]
    assert final["number"].startswith("ACME-")
    # Default rates are for subscription lines; a manual line carries only its own.
    assert (final["tax"], final["total"]) == (0, 1000)
    with nothing_written(api.tally):
        unsorted = api.post("/v1/billing_settings", {"retry_days": [5, 2]})
        problem(unsorted, 422, "invalid_combination")


def test_credit_balance_is_adjusted_and_used_first_by_the_next_invoice(api: Client) -> None:
    buyer = customer(api)
    assert api.ok(api.get(f"/v1/customers/{buyer}/billing"))["credit_balance"] == 0
    granted = api.post(f"/v1/customers/{buyer}/credit_balance", {"amount": 700, "reason": "sorry"})
    assert api.ok(granted)["billing"]["credit_balance"] == 700
    with nothing_written(api.tally):
        too_much = api.post(f"/v1/customers/{buyer}/credit_balance", {"amount": -701})
    assert too_much.status_code == 422, too_much.text
    invoice = draft(api, buyer, line("x", 1000))
    final = act(api, invoice["id"], "finalize")
    assert (final["invoice"]["credit_applied"], final["invoice"]["amount_remaining"]) == (700, 300)
    assert final["credit_balance"] == 0
    assert api.ok(api.get(f"/v1/customers/{buyer}/billing"))["credit_balance"] == 0


def test_trial_balance_sums_to_zero_and_shows_revenue_tax_and_receivable(api: Client) -> None:
    vat = tax_rate(api, "19")
    buyer = customer(api)
    invoice = draft(api, buyer, line("x", 1000, tax_rate_ids=[vat]))
    act(api, invoice["id"], "finalize")
    act(api, invoice["id"], "pay", {"method": "out_of_band", "amount": 190, "reference": "r"})
    eur = api.ok(api.get("/v1/reports/trial_balance"))["currencies"]["EUR"]
    accounts = eur["accounts"]
    assert eur["total"] == 0 == sum(accounts.values())
    assert accounts["revenue"] == 1000
    assert accounts[f"tax_payable:{vat}"] == 190
    assert accounts[f"receivable:{buyer}"] == -1000
    assert accounts["clearing:out_of_band"] == -190


def test_billing_setup_of_another_project_is_invisible(api: Client, other: Client) -> None:
    vat = tax_rate(api, "19")
    coupon(api, "MINE", percent_off="10")
    buyer = customer(api)
    problem(other.get(f"/v1/tax_rates/{vat}"), 404, "not_found")
    problem(other.get("/v1/coupons/MINE"), 404, "not_found")
    problem(other.get(f"/v1/customers/{buyer}/billing"), 404, "not_found")
    assert api.ok(other.get("/v1/tax_rates"))["data"] == []
    assert api.ok(other.get("/v1/reports/trial_balance"))["currencies"] == {}
    with nothing_written(api.tally):
        problem(other.post(f"/v1/tax_rates/{vat}/archive"), 404, "not_found")
        problem(
            other.post(f"/v1/customers/{buyer}/credit_balance", {"amount": 5}), 404, "not_found"
        )
