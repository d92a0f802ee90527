"""Creators' usage and earnings (issue 13, the marketplace seed): a product names its
creator (``owner``); ``GET /v1/products/{id}/usage`` answers the usage its invoices
billed per period and customer, ``.../earnings`` the revenue of its paid lines per
period and currency less the project's platform fee as it was when each invoice was
paid. Both are read models of the log: a replay builds the same rows."""

from __future__ import annotations

from typing import Any

from api.bootstrap import Tally
from projections.creator_earnings import platform_fee
from projections.replay import replay
from tests.e2e.billing import clock, customer, price, problem, product, sandbox, subscribe
from tests.e2e.conftest import Client
from tests.e2e.test_usage_rating import TOKENS, advance, invoices, send, settle, used

__all__ = ["sandbox"]  # the fixture, used by name


def pay(api: Client, invoice: dict[str, Any]) -> None:
    body = {"method": "out_of_band", "reference": f"wire {invoice['id']}"}
    api.ok(api.post(f"/v1/invoices/{invoice['id']}/pay", body))


def marketplace(api: Client) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    """An API product by creator_7 (a plan of 1,000 and tokens at 3 each) and another
    product of the platform's own, both on one subscription."""
    api.ok(api.post("/v1/meters", TOKENS), 201)
    api.ok(api.post("/v1/billing_settings", {"platform_fee_percent": "12.5"}))
    clock_id = clock(api)
    customer_id = customer(api, "user_1", test_clock_id=clock_id)
    created = api.post("/v1/products", {"code": "API", "name": "Api", "owner": "creator_7"})
    api_product = api.ok(created, 201)["id"]
    plan = price(api, api_product, "base", unit_amount=1000)
    tokens = price(api, api_product, "tokens", scheme="metered", meter="tokens", unit_amount=3)
    support = price(api, product(api, "SUPPORT"), "support", unit_amount=500)
    sub = subscribe(api, customer_id, plan, tokens, support)
    settle(api)
    return clock_id, api_product, sub, api.ok(api.get(f"/v1/products/{api_product}"))


def test_a_creator_earns_its_products_paid_lines_less_the_platform_fee(
    sandbox: Client, app_tally: Tally
) -> None:
    api = sandbox
    clock_id, api_product, sub, shown = marketplace(api)
    assert shown["owner"] == "creator_7"
    advance(api, clock_id, 3)
    assert send(api, used("t1", 1, tokens="101", model="large"),
                used("t2", 2, tokens="50", model="small")) == ["created"] * 2  # fmt: skip
    first = invoices(api, sub)[0]
    pay(api, first)  # the plans of the first period: 1,000 of the creator's, 500 not
    advance(api, clock_id, 29)  # the renewal bills the first period's tokens
    renewal = invoices(api, sub)[1]
    # The fee changes before the renewal is paid: the first invoice keeps its 12.5 %.
    api.ok(api.post("/v1/billing_settings", {"platform_fee_percent": "10"}))
    pay(api, renewal)
    settle(api)
    earnings = api.ok(api.get(f"/v1/products/{api_product}/earnings"))
    assert (earnings["object"], earnings["owner"]) == ("product_earnings", "creator_7")
    rows = [(r["period_start"], r["gross"], r["fee"], r["net"], r["lines"])
            for r in earnings["data"]]  # fmt: skip
    tokens_gross = 3 * 151  # the usage lines of the first period, paid on the renewal
    # Lines: the plan, the metered item's own line of 0 and, once, the two usage lines.
    assert rows == [
        (first["period_start"], 1000 + tokens_gross,
         platform_fee(1000, "12.5") + platform_fee(3 * 101, "10") + platform_fee(3 * 50, "10"),
         1000 + tokens_gross - 125 - 30 - 15, 4),
        (renewal["period_start"], 1000, 100, 900, 2),
    ]  # fmt: skip
    usage = api.ok(api.get(f"/v1/products/{api_product}/usage"))["data"]
    assert [(u["period_start"], u["customer_id"], u["meter"], u["quantity"]) for u in usage] == [
        (first["period_start"], sub["customer_id"], "tokens", "151")]  # fmt: skip
    report = replay(app_tally.store, app_tally.views, app_tally.schema, progress=False)
    assert report.ok, report.summary()


def test_a_products_earnings_count_only_paid_invoices_and_an_unknown_product_is_404(
    sandbox: Client,
) -> None:
    api = sandbox
    _, api_product, _, _ = marketplace(api)
    settle(api)
    assert api.ok(api.get(f"/v1/products/{api_product}/earnings"))["data"] == []  # unpaid
    problem(api.get("/v1/products/00000000-0000-0000-0000-000000000001/earnings"), 404,
            "not_found")  # fmt: skip
    problem(api.post("/v1/billing_settings", {"platform_fee_percent": "100.5"}), 422,
            "validation_error")  # fmt: skip


def test_usage_paid_by_promotional_credits_earns_the_creator_nothing(
    sandbox: Client, app_tally: Tally
) -> None:
    """Review finding 10: before, the creator earned the usage's full amount though
    promotional credits (which the platform gave away) paid 200 of it. Paid credits
    count like money: the customer bought them."""
    api = sandbox
    clock_id, api_product, sub, _ = marketplace(api)
    cid = sub["customer_id"]
    for kind, amount in (("promotional", 200), ("paid", 100)):
        api.ok(api.post("/v1/credit_grants",
                        {"customer_id": cid, "kind": kind, "amount": amount}), 201)  # fmt: skip
    advance(api, clock_id, 3)
    assert send(api, used("t1", 1, tokens="101", model="large"),
                used("t2", 2, tokens="50", model="small")) == ["created"] * 2  # fmt: skip
    first = invoices(api, sub)[0]
    pay(api, first)
    advance(api, clock_id, 29)
    renewal = invoices(api, sub)[1]
    credits_line = next(li for li in renewal["lines"] if li["kind"] == "credits")
    assert credits_line["amount"] == -300  # the promotional grant first (the older)
    pay(api, renewal)
    settle(api)
    earnings = api.ok(api.get(f"/v1/products/{api_product}/earnings"))["data"]
    first_period = next(r for r in earnings if r["period_start"] == first["period_start"])
    gross = 1000 + 3 * 151 - 200
    fee = sum(platform_fee(a, "12.5") for a in (1000, 3 * 101, 3 * 50, -200))
    assert (first_period["gross"], first_period["fee"], first_period["net"]) == (
        gross, fee, gross - fee,
    )  # fmt: skip
    report = replay(app_tally.store, app_tally.views, app_tally.schema, progress=False)
    assert report.ok, report.summary()
