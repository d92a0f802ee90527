"""Money limits over HTTP (issue 10, reproduction 2): each field within its own limit,
their product, sum or resulting balance beyond MAX_AMOUNT_MINOR, refused with 422
``amount_too_large`` and nothing written."""

from __future__ import annotations

from datetime import timedelta

from domain.limits import MAX_AMOUNT_MINOR, MAX_QUANTITY
from tests.e2e.billing import START, clock, customer, plan, problem, product, subscribe
from tests.e2e.billing import price as new_price
from tests.e2e.billing import sandbox as sandbox  # the fixture
from tests.e2e.conftest import Client, nothing_written
from tests.e2e.invoicing import act, draft, line, tax_rate


def test_an_invoice_line_whose_product_passes_the_limit_is_refused(api: Client) -> None:
    # Reproduction 2: 10^15 x 10^6 answered 201 with a total of 10^21.
    body = {
        "customer_id": customer(api),
        "lines": [line("Huge", MAX_AMOUNT_MINOR, MAX_QUANTITY)],
    }
    with nothing_written(api.tally):
        refused = problem(api.post("/v1/invoices", body), 422, "amount_too_large")
    assert refused["limit"] == MAX_AMOUNT_MINOR
    assert "line" in refused["detail"]


def test_lines_whose_sum_passes_the_limit_are_refused(api: Client) -> None:
    invoice = draft(api, None, line("Half", MAX_AMOUNT_MINOR // 2 + 1))
    path = f"/v1/invoices/{invoice['id']}/lines"
    with nothing_written(api.tally):
        refused = problem(
            api.post(path, line("Other half", MAX_AMOUNT_MINOR // 2)), 422, "amount_too_large"
        )
    assert "subtotal" in refused["detail"]
    assert len(api.ok(api.get(f"/v1/invoices/{invoice['id']}"))["lines"]) == 1
    # Within the limit, the same draft takes it and finalizes.
    act(api, invoice["id"], "lines", line("Rest", MAX_AMOUNT_MINOR // 2 - 1))
    final = act(api, invoice["id"], "finalize")["invoice"]
    assert final["total"] == MAX_AMOUNT_MINOR


def test_tax_that_takes_the_total_past_the_limit_is_refused(api: Client) -> None:
    rate = tax_rate(api, "10")
    body = {
        "customer_id": customer(api),
        "lines": [line("All of it", MAX_AMOUNT_MINOR, tax_rate_ids=[rate])],
    }
    with nothing_written(api.tally):
        refused = problem(api.post("/v1/invoices", body), 422, "amount_too_large")
    assert "total" in refused["detail"] or "gross" in refused["detail"]


def test_a_subscription_whose_items_pass_the_limit_is_refused(api: Client) -> None:
    # Each price x quantity fits; the renewal invoice's lines together would not.
    first = plan(api, "BIG", MAX_AMOUNT_MINOR // 2)
    second = plan(api, "BIGGER", MAX_AMOUNT_MINOR // 2 + 1)
    buyer = customer(api)
    body = {"customer_id": buyer, "items": [{"price_id": first}, {"price_id": second}]}
    with nothing_written(api.tally):
        problem(api.post("/v1/subscriptions", body), 422, "amount_too_large")


def test_a_price_times_a_quantity_past_the_limit_is_refused_for_a_subscription(
    api: Client,
) -> None:
    per_seat = new_price(
        api, product(api, "SEAT"), "seat", scheme="per_unit", unit_amount=MAX_AMOUNT_MINOR
    )
    body = {"customer_id": customer(api), "items": [{"price_id": per_seat, "quantity": 2}]}
    with nothing_written(api.tally):
        refused = problem(api.post("/v1/subscriptions", body), 422, "amount_too_large")
    assert refused["amount"] == 2 * MAX_AMOUNT_MINOR


def test_a_plan_change_whose_next_renewal_passes_the_limit_is_refused(api: Client) -> None:
    first = plan(api, "BIG", MAX_AMOUNT_MINOR // 2)
    second = plan(api, "BIGGER", MAX_AMOUNT_MINOR // 2 + 1)
    sub = subscribe(api, customer(api), first)
    body = {"items": [{"price_id": first}, {"price_id": second}], "proration": "period_end"}
    with nothing_written(api.tally):
        refused = api.post(f"/v1/subscriptions/{sub['id']}/items", body)
    problem(refused, 422, "amount_too_large")


def test_a_deposit_past_the_balance_limit_is_refused(api: Client) -> None:
    full = api.open_account("full")
    api.deposit(full, MAX_AMOUNT_MINOR)
    with nothing_written(api.tally):
        refused = api.post(f"/v1/accounts/{full}/deposits", {"amount": 1, "currency": "EUR"})
    body = problem(refused, 422, "amount_too_large")
    assert "balance" in body["detail"]
    assert api.account(full)["ledger_balance"] == MAX_AMOUNT_MINOR


def test_a_transfer_into_a_full_account_is_refused(api: Client) -> None:
    full, source = api.open_account("full"), api.open_account("source")
    api.deposit(full, MAX_AMOUNT_MINOR)
    api.deposit(source, 10)
    body = {"from_account_id": source, "to_account_id": full, "amount": 10, "currency": "EUR"}
    with nothing_written(api.tally):
        problem(api.post("/v1/transfers", body), 422, "amount_too_large")
    assert api.account(source)["ledger_balance"] == 10


def test_a_subscription_at_the_limit_renews_and_a_prorated_upgrade_past_it_is_refused(
    sandbox: Client,
) -> None:
    api = sandbox
    clock_id = clock(api)
    buyer = customer(api, "big", test_clock_id=clock_id)
    seats = new_price(api, product(api, "SEATS"), "seats", scheme="per_unit", unit_amount=10**9)
    sub = subscribe(api, buyer, seats, items=[{"price_id": seats, "quantity": 500_000}])
    advance = f"/v1/test_clocks/{clock_id}/advance"
    api.ok(api.post(advance, {"to": (START + timedelta(days=15)).isoformat()}))
    # A million seats is the limit per period; charging the rest of this period for them
    # on top would take the next renewal invoice past it.
    upgrade = {"items": [{"price_id": seats, "quantity": MAX_QUANTITY}], "proration": "prorate"}
    path = f"/v1/subscriptions/{sub['id']}/items"
    with nothing_written(api.tally):
        problem(api.post(path, upgrade), 422, "amount_too_large")
    api.ok(api.post(path, {**upgrade, "proration": "none"}))
    api.ok(api.post(advance, {"to": (START + timedelta(days=45)).isoformat()}))
    found = api.ok(api.get(f"/v1/invoices?subscription_id={sub['id']}"))["data"]
    assert sorted(invoice["total"] for invoice in found) == [
        MAX_AMOUNT_MINOR // 2,
        MAX_AMOUNT_MINOR,
    ]


def test_a_trial_whose_first_invoice_would_pass_the_limit_with_tax_is_refused(
    api: Client,
) -> None:
    # The items fit; the invoice the trial's end will make, with the project's default
    # 100 % tax, would not, and the scheduler could never make it.
    rate = tax_rate(api, "100")
    api.ok(api.post("/v1/billing_settings", {"default_tax_rate_ids": [rate]}))
    big = plan(api, "BIG", MAX_AMOUNT_MINOR // 2 + 1)
    body = {"customer_id": customer(api), "items": [{"price_id": big}], "trial_days": 14}
    with nothing_written(api.tally):
        refused = problem(api.post("/v1/subscriptions", body), 422, "amount_too_large")
    assert "total" in refused["detail"] or "gross" in refused["detail"]
    fits = plan(api, "FITS", MAX_AMOUNT_MINOR // 2)
    api.ok(api.post("/v1/subscriptions", {**body, "items": [{"price_id": fits}]}), 201)


def test_a_plan_change_whose_next_invoice_would_pass_the_limit_with_tax_is_refused(
    api: Client,
) -> None:
    sub = subscribe(api, customer(api), plan(api, "SMALL", 1000))
    rate = tax_rate(api, "100")
    api.ok(api.post("/v1/billing_settings", {"default_tax_rate_ids": [rate]}))
    path = f"/v1/subscriptions/{sub['id']}/items"
    big = {"items": [{"price_id": plan(api, "BIG", MAX_AMOUNT_MINOR // 2 + 1)}]}
    for proration in ("none", "period_end"):
        with nothing_written(api.tally):
            refused = api.post(path, {**big, "proration": proration})
        problem(refused, 422, "amount_too_large")
    fits = {"items": [{"price_id": plan(api, "FITS", MAX_AMOUNT_MINOR // 2)}]}
    api.ok(api.post(path, {**fits, "proration": "none"}))
