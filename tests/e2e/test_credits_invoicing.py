"""Prepaid credits pay for rated usage (issue 13), driven by a test clock over HTTP: three
months of usage, a late event and credit grants (one limited to a price and expiring
mid-way, one for everything, one granted in the third month), and every invoice checked
line by line: the renewal's ``credits`` line is what the grants paid, in the stated
order; what expired unused is breakage in the journal; the preview shows the credits
the renewal then applies."""

from __future__ import annotations

from typing import Any

from tests.e2e.billing import clock, customer, price, problem, product, sandbox, subscribe
from tests.e2e.conftest import Client
from tests.e2e.invoicing import coupon
from tests.e2e.test_usage_rating import SEATS, TOKENS, advance, at, invoices, send, settle, used

__all__ = ["sandbox"]  # the fixture, used by name


def lines(invoice: dict[str, Any]) -> list[tuple[str, int]]:
    """The invoice's lines but the metered items' own (0, billed in advance as nothing)."""
    return [(li["kind"], li["amount"]) for li in invoice["lines"] if li["amount"] != 0]


def test_three_months_of_usage_with_credits_invoice_by_invoice(sandbox: Client) -> None:
    api = sandbox
    api.ok(api.post("/v1/meters", TOKENS), 201)
    api.ok(api.post("/v1/meters", SEATS), 201)
    clock_id = clock(api)
    cid = customer(api, "user_1", test_clock_id=clock_id)
    api_product = product(api, "API")
    plan = price(api, api_product, "base", unit_amount=1000)
    tokens = price(api, api_product, "tokens", scheme="metered", meter="tokens", unit_amount=2)
    seats = price(api, api_product, "seats", scheme="metered", meter="seats", unit_amount=500)
    sub = subscribe(api, cid, plan, tokens, seats)
    settle(api)
    grants = {
        "promo": {"kind": "promotional", "amount": 1000, "prices": [tokens],
                  "expires_at": at(45)},
        "paid": {"kind": "paid", "amount": 500, "source": "stripe"},
    }  # fmt: skip
    made = {
        name: api.ok(api.post("/v1/credit_grants", {"customer_id": cid, **g}), 201)
        for name, g in grants.items()
    }
    # Month 1: 300 tokens (600) and 2 seats (1000).
    advance(api, clock_id, 5)
    month1 = [used("t1", 5, tokens="300", model="large"), used("s1", 5, name="seats", n="2")]
    assert send(api, *month1) == ["created", "created"]
    advance(api, clock_id, 28.2)  # renewed at day 28
    # A late event of month 1, within the grace: billed on the next renewal.
    assert send(api, used("late", 27, tokens="50", model="large")) == ["created"]
    # Month 2: 100 tokens of another model; the promotional grant expires at day 45.
    advance(api, clock_id, 40)
    assert send(api, used("t2", 40, tokens="100", model="small")) == ["created"]
    advance(api, clock_id, 59.2)  # renewed at day 59 (31 March)
    # Month 3: a new paid grant of 250, and 200 tokens (400).
    advance(api, clock_id, 60)
    api.ok(api.post("/v1/credit_grants", {"customer_id": cid, "kind": "paid", "amount": 250}),
           201)  # fmt: skip
    advance(api, clock_id, 70)
    assert send(api, used("t3", 70, tokens="200", model="large")) == ["created"]
    advance(api, clock_id, 80)
    preview = api.ok(api.get(f"/v1/subscriptions/{sub['id']}/upcoming_invoice"))
    previewed = lines(preview["upcoming_invoice"])
    advance(api, clock_id, 89.2)  # renewed at day 89 (30 April)

    first, renewal1, renewal2, renewal3 = invoices(api, sub)
    assert lines(first) == [("subscription", 1000)]
    # Tokens take the promotional grant (it pays for them and expires first), seats
    # only the paid one, which covers 500 of their 1000.
    assert lines(renewal1) == [
        ("subscription", 1000), ("usage", 600), ("usage", 1000), ("credits", -1100),
    ]  # fmt: skip
    assert renewal1["total"] == 1500
    # The late 50 tokens (100) and month 2's 100 (200): the promotional grant's 400 had
    # expired at day 45 and the paid one was spent, so nothing pays for them.
    assert lines(renewal2) == [("subscription", 1000), ("usage", 100), ("usage", 200)]
    assert renewal2["total"] == 1300
    assert lines(renewal3) == [("subscription", 1000), ("usage", 400), ("credits", -250)]
    assert renewal3["total"] == 1150
    assert previewed == lines(renewal3)  # the preview applied what the renewal applied

    found = api.ok(api.get("/v1/credit_grants", customer=cid))["data"]
    by_id = {g["id"]: g for g in found}
    promo, paid = by_id[made["promo"]["id"]], by_id[made["paid"]["id"]]
    assert (promo["consumed"], promo["expired"], promo["remaining"]) == (600, 400, 0)
    assert (paid["consumed"], paid["remaining"]) == (500, 0)
    books = api.ok(api.get("/v1/reports/trial_balance"))
    eur = books["EUR"] if "EUR" in books else books["currencies"]["EUR"]
    assert eur["accounts"]["breakage"] == 400
    assert eur["accounts"][f"credits:{cid}"] == 0
    assert eur["total"] == 0


def test_a_coupon_and_credits_never_pay_twice_and_fix_the_draft(sandbox: Client) -> None:
    """Review finding 1: a half-off coupon and 5000 credits on 1000 of usage. Before the
    fix the credits paid the usage before its discount (1000 spent where 500 was owed)
    and the renewal's total was negative, marked paid, its difference given as credit.
    Finding 2: the draft they paid for refuses the changes that would move that amount."""
    api = sandbox
    api.ok(api.post("/v1/billing_settings", {"finalize_delay_s": 3600}))
    api.ok(api.post("/v1/meters", TOKENS), 201)
    clock_id = clock(api)
    cid = customer(api, "user_1", test_clock_id=clock_id)
    api_product = product(api, "API")
    tokens = price(api, api_product, "tokens", scheme="metered", meter="tokens", unit_amount=2)
    coupon(api, "HALF", percent_off="50", duration="forever")
    sub = subscribe(api, cid, tokens)
    api.ok(api.post(f"/v1/subscriptions/{sub['id']}/coupon", {"coupon_code": "HALF"}))
    settle(api)
    api.ok(api.post("/v1/credit_grants",
                    {"customer_id": cid, "kind": "promotional", "amount": 5000}), 201)  # fmt: skip
    advance(api, clock_id, 5)
    assert send(api, used("t1", 5, tokens="500", model="large")) == ["created"]
    advance(api, clock_id, 28.02)  # renewed at day 28, a draft for an hour
    renewal = invoices(api, sub)[-1]
    assert renewal["status"] == "draft"
    assert lines(renewal) == [("usage", 1000), ("credits", -500)]
    assert (renewal["discount"], renewal["total"]) == (500, 0)
    path = f"/v1/invoices/{renewal['id']}"
    usage_line = next(li["id"] for li in renewal["lines"] if li["kind"] == "usage")
    problem(api.post(f"{path}/lines/{usage_line}/remove", {}), 409, "invalid_transition")
    problem(api.post(f"{path}/coupon", {"coupon_code": "HALF"}), 409, "invalid_transition")
    advance(api, clock_id, 28.3)  # finalized
    renewal = api.ok(api.get(path))
    assert (renewal["status"], renewal["total"], renewal["credit_granted"]) == ("paid", 0, 0)
    (balance,) = api.ok(api.get(f"/v1/customers/{cid}/credits"))["balances"]
    assert balance["balance"] == 4500


def test_voiding_a_renewal_gives_its_prepaid_credits_back(sandbox: Client) -> None:
    """Review finding 2: before, the void gave back only the billing account's credit;
    the 300 of prepaid credits stayed spent and the journal kept 300 of revenue from a
    voided invoice."""
    api = sandbox
    api.ok(api.post("/v1/meters", TOKENS), 201)
    clock_id = clock(api)
    cid = customer(api, "user_1", test_clock_id=clock_id)
    tokens = price(api, product(api, "API"), "tokens", scheme="metered", meter="tokens",
                   unit_amount=2)  # fmt: skip
    sub = subscribe(api, cid, tokens)
    settle(api)
    grant = api.ok(api.post("/v1/credit_grants",
                            {"customer_id": cid, "kind": "paid", "amount": 300}), 201)  # fmt: skip
    advance(api, clock_id, 5)
    assert send(api, used("t1", 5, tokens="500", model="large")) == ["created"]
    advance(api, clock_id, 28.2)
    renewal = invoices(api, sub)[-1]
    assert (renewal["status"], lines(renewal), renewal["total"]) == (
        "open", [("usage", 1000), ("credits", -300)], 700,
    )  # fmt: skip
    api.ok(api.post(f"/v1/invoices/{renewal['id']}/void", {}))
    settle(api)
    (balance,) = api.ok(api.get(f"/v1/customers/{cid}/credits"))["balances"]
    assert balance["balance"] == 300
    (found,) = api.ok(api.get("/v1/credit_grants", customer=cid))["data"]
    assert (found["id"], found["consumed"], found["remaining"]) == (grant["id"], 0, 300)
    books = api.ok(api.get("/v1/reports/trial_balance"))
    eur = books["EUR"] if "EUR" in books else books["currencies"]["EUR"]
    assert eur["accounts"].get("revenue", 0) == 0
    assert eur["accounts"][f"credits:{cid}"] == 300
    assert eur["total"] == 0
