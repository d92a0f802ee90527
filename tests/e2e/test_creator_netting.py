"""Creators' earnings net of discounts, tax and credit notes (issue 13,
``projections/creator_netting.py``): a line earns its amount after the coupon's
discount and without tax; a credit note (a refund) of an invoice takes its share of
each of the product's lines, without tax, in the period current when it was issued,
never restating a period already settled. The read model replays equal."""

from __future__ import annotations

from api.bootstrap import Tally
from projections.replay import replay
from tests.e2e.billing import clock, customer, price, sandbox, subscribe
from tests.e2e.conftest import Client
from tests.e2e.invoicing import coupon, tax_rate
from tests.e2e.test_creator_earnings import pay
from tests.e2e.test_usage_rating import advance, invoices, settle

__all__ = ["sandbox"]  # the fixture, used by name


def test_earnings_net_the_coupon_tax_and_credit_notes_in_the_period_they_happen(
    sandbox: Client, app_tally: Tally
) -> None:
    api = sandbox
    vat = tax_rate(api, "20")
    settings = {"platform_fee_percent": "10", "default_tax_rate_ids": [vat]}
    api.ok(api.post("/v1/billing_settings", settings))
    clock_id = clock(api)
    cid = customer(api, "user_1", test_clock_id=clock_id)
    created = api.post("/v1/products", {"code": "API", "name": "Api", "owner": "creator_7"})
    api_product = api.ok(created, 201)["id"]
    sub = subscribe(api, cid, price(api, api_product, "base", unit_amount=1000))
    coupon(api, "HALF", percent_off="50", duration="forever")
    api.ok(api.post(f"/v1/subscriptions/{sub['id']}/coupon", {"coupon_code": "HALF"}))
    settle(api)
    first = invoices(api, sub)[0]
    assert first["total"] == 1200  # 1,000 and 20 % tax: the coupon came after it
    pay(api, first)
    advance(api, clock_id, 29)  # the renewal: 1,000 less 500, 100 of tax
    renewal = invoices(api, sub)[1]
    assert (renewal["discount"], renewal["tax"], renewal["total"]) == (500, 100, 600)
    pay(api, renewal)
    # Two refunds in the second period: 300 of the renewal's 600 (its line's share
    # without tax: 300 x 500 / 600 = 250) and 240 of the first invoice's 1,200 (200).
    for invoice, amount in ((renewal, 300), (first, 240)):
        note = {"amount": amount, "refund_to": "credit_balance"}
        api.ok(api.post(f"/v1/invoices/{invoice['id']}/credit_notes", note), 201)
    settle(api)
    earnings = api.ok(api.get(f"/v1/products/{api_product}/earnings"))["data"]
    rows = [(r["period_start"], r["gross"], r["fee"], r["net"], r["lines"]) for r in earnings]
    assert rows == [
        (first["period_start"], 1000, 100, 900, 1),  # not restated by the later refund
        (renewal["period_start"], 500 - 250 - 200, 50 - 25 - 20, 50 - 5, 3),
    ]
    report = replay(app_tally.store, app_tally.views, app_tally.schema, progress=False)
    assert report.ok, report.summary()


def test_a_credit_note_never_lands_in_a_period_billed_only_by_a_void_invoice(
    sandbox: Client, app_tally: Tally
) -> None:
    """The period current when a note is issued is the latest *billed* one (open, paid,
    uncollectible): a voided renewal earns nothing, so a refund must not be charged to
    its period (before: it was, a period showing no earnings but the deduction)."""
    api = sandbox
    api.ok(api.post("/v1/billing_settings", {"platform_fee_percent": "10"}))
    clock_id = clock(api)
    cid = customer(api, "user_2", test_clock_id=clock_id)
    created = api.post("/v1/products", {"code": "APV", "name": "Api", "owner": "creator_8"})
    product = api.ok(created, 201)["id"]
    sub = subscribe(api, cid, price(api, product, "base", unit_amount=1000))
    settle(api)
    first = invoices(api, sub)[0]
    pay(api, first)
    advance(api, clock_id, 29)  # the renewal, left open, then voided
    renewal = invoices(api, sub)[1]
    assert renewal["period_start"] > first["period_start"]
    api.ok(api.post(f"/v1/invoices/{renewal['id']}/void", {}))
    note = {"amount": 400, "refund_to": "credit_balance"}
    api.ok(api.post(f"/v1/invoices/{first['id']}/credit_notes", note), 201)
    settle(api)
    earnings = api.ok(api.get(f"/v1/products/{product}/earnings"))["data"]
    rows = [(r["period_start"], r["gross"], r["lines"]) for r in earnings]
    assert rows == [(first["period_start"], 1000 - 400, 2)]
    report = replay(app_tally.store, app_tally.views, app_tally.schema, progress=False)
    assert report.ok, report.summary()
