"""Invoices over HTTP: a draft's lines and coupon, finalization with gapless numbers,
payment from a wallet and out of band, void and uncollectible, reads and lists per
customer, status and period, idempotent replays, and tenancy."""

from __future__ import annotations

from datetime import timedelta

from adapters.providers.stub import DECLINED
from tests.e2e.billing import START, card, clock, customer, plan, problem, subscribe
from tests.e2e.billing import sandbox as sandbox  # the fixture
from tests.e2e.conftest import Client, nothing_written
from tests.e2e.invoicing import act, coupon, draft, line, wallet


def test_draft_lines_coupon_finalize_and_wallet_payment(api: Client) -> None:
    buyer = customer(api, "ada")
    invoice = draft(api, buyer, line("Setup", 5000), description="March")
    added = act(api, invoice["id"], "lines", line("Seats", 1200, 3))
    assert [li["amount"] for li in added["invoice"]["lines"]] == [5000, 3600]
    extra = act(api, invoice["id"], "lines", line("Mistake", 999))["line_id"]
    removed = act(api, invoice["id"], f"lines/{extra}/remove")["invoice"]
    assert removed["subtotal"] == 8600
    coupon(api, "TEN", percent_off="10")
    discounted = act(api, invoice["id"], "coupon", {"coupon_code": "TEN"})["invoice"]
    assert (discounted["discount"], discounted["total"]) == (860, 7740)
    final = act(api, invoice["id"], "finalize")["invoice"]
    assert final["status"] == "open"
    assert final["number"].startswith("INV-")
    assert final["number"].endswith("-000001")
    assert final["amount_remaining"] == 7740
    account_id = wallet(api, buyer, 10_000)
    paid = act(api, invoice["id"], "pay", {"method": "wallet"})
    assert paid["payment_attempt"]["succeeded"] is True
    assert (paid["invoice"]["status"], paid["invoice"]["amount_remaining"]) == ("paid", 0)
    assert api.account(account_id)["available_balance"] == 10_000 - 7740
    read = api.ok(api.get(f"/v1/invoices/{invoice['id']}"))
    assert (read["status"], read["amount_paid"], read["number"]) == ("paid", 7740, final["number"])
    assert read["created_at"] is not None


def test_numbers_are_consecutive_in_finalization_order(api: Client) -> None:
    first, second, third = (draft(api, None, line("x", 100)) for _ in range(3))
    numbers = [act(api, i["id"], "finalize")["invoice"]["number"] for i in (third, first, second)]
    assert [n[-6:] for n in numbers] == ["000001", "000002", "000003"]
    assert len({n[:-6] for n in numbers}) == 1


def test_out_of_band_partial_payments_then_paid(api: Client) -> None:
    invoice = draft(api, None, line("Work", 10_000))
    act(api, invoice["id"], "finalize")
    part = {"method": "out_of_band", "amount": 4000, "reference": "wire 1"}
    half = act(api, invoice["id"], "pay", part)["invoice"]
    assert (half["status"], half["amount_remaining"]) == ("open", 6000)
    rest = act(api, invoice["id"], "pay", {"method": "out_of_band", "reference": "wire 2"})
    assert (rest["invoice"]["status"], rest["invoice"]["amount_paid"]) == ("paid", 10_000)


def test_void_and_uncollectible_then_paid_later(api: Client) -> None:
    voided = draft(api, None, line("A", 500))
    act(api, voided["id"], "finalize")
    assert act(api, voided["id"], "void")["invoice"]["status"] == "void"
    doubtful = draft(api, None, line("B", 700))
    act(api, doubtful["id"], "finalize")
    marked = act(api, doubtful["id"], "mark_uncollectible")["invoice"]
    assert marked["status"] == "uncollectible"
    late = act(api, doubtful["id"], "pay", {"method": "out_of_band", "reference": "late"})
    assert late["invoice"]["status"] == "paid"


def test_list_per_customer_status_and_period_pages(api: Client) -> None:
    ada, bob = customer(api, "ada"), customer(api, "bob")
    mine = [draft(api, ada, line("x", 100 + i))["id"] for i in range(3)]
    theirs = draft(api, bob, line("y", 100))["id"]
    act(api, mine[1], "finalize")
    first = api.ok(api.get("/v1/invoices", customer_id=ada, limit=2))
    assert ([i["id"] for i in first["data"]], first["has_more"]) == (mine[:2], True)
    rest = api.ok(api.get("/v1/invoices", customer_id=ada, starting_after=mine[1]))
    assert ([i["id"] for i in rest["data"]], rest["has_more"]) == (mine[2:], False)
    opened = api.ok(api.get("/v1/invoices", status="open"))
    assert [i["id"] for i in opened["data"]] == [mine[1]]
    drafts = api.ok(api.get("/v1/invoices", status="draft"))
    assert [i["id"] for i in drafts["data"]] == [mine[0], mine[2], theirs]
    problem(api.get("/v1/invoices", status="sleeping"), 422, "validation_error")


def test_create_replays_under_the_same_key_and_refuses_another_body(api: Client) -> None:
    body = {"customer_id": customer(api), "lines": [line("x", 100)]}
    first = api.post("/v1/invoices", body, key="inv-1")
    again = api.post("/v1/invoices", body, key="inv-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    with nothing_written(api.tally):
        other = api.post("/v1/invoices", {**body, "description": "other"}, key="inv-1")
    problem(other, 409, "idempotency_key_reused")


def test_other_projects_invoices_answer_404(api: Client, other: Client) -> None:
    invoice = draft(api, None, line("x", 100))
    mine = f"/v1/invoices/{invoice['id']}"
    for path in (mine, mine + "/pdf", mine + "/html"):
        problem(other.get(path), 404, "not_found")
    with nothing_written(api.tally):
        problem(other.post(mine + "/finalize"), 404, "not_found")
        problem(other.post(mine + "/lines", line("z", 1)), 404, "not_found")
    assert api.ok(other.get("/v1/invoices"))["data"] == []
    problem(other.post("/v1/invoices", {"customer_id": invoice["customer_id"]}), 404, "not_found")


def test_every_invoicing_route_needs_a_key(api: Client) -> None:
    for path in ("/v1/invoices", "/v1/tax_rates", "/v1/reports/trial_balance"):
        problem(api.http.get(path), 401, "unauthenticated")
    problem(api.http.post("/v1/invoices", json={}), 401, "unauthenticated")


def test_list_per_period_of_subscription_invoices(sandbox: Client) -> None:
    api = sandbox
    clock_id = clock(api)
    buyer = customer(api, "ada", test_clock_id=clock_id)
    sub = subscribe(api, buyer, plan(api, "PRO", 1000))
    to = (START + timedelta(days=60)).isoformat()
    assert api.ok(api.post(f"/v1/test_clocks/{clock_id}/advance", {"to": to}))["steps"]
    every = api.ok(api.get("/v1/invoices", subscription_id=sub["id"]))["data"]
    starts = [i["period_start"][:10] for i in every]
    assert starts == ["2030-01-31", "2030-02-28", "2030-03-31"]
    february = api.ok(
        api.get(
            "/v1/invoices", period_from="2030-02-15T00:00:00Z", period_to="2030-03-15T00:00:00Z"
        )
    )["data"]
    assert [i["id"] for i in february] == [every[1]["id"]]
    later = api.ok(api.get("/v1/invoices", period_from="2030-02-28T09:00:00Z"))["data"]
    assert [i["id"] for i in later] == [every[1]["id"], every[2]["id"]]


def test_a_declined_provider_payment_answers_the_attempt_and_a_retry_waits(api: Client) -> None:
    buyer = customer(api, "bob")
    card(api, buyer, DECLINED)
    invoice = draft(api, buyer, line("Work", 1000))
    act(api, invoice["id"], "finalize")
    paid = act(api, invoice["id"], "pay", {"method": "provider"})
    attempt = paid["payment_attempt"]
    # The charge was made by the outbox after the command committed; the route waited.
    assert (attempt["status"], attempt["provider"]) == ("failed", "stub")
    assert (attempt["succeeded"], attempt["failure_reason"]) == (False, "card_declined")
    call = api.ok(api.get(f"/v1/provider_calls/{attempt['provider_call_id']}"))
    assert (call["operation"], call["state"], call["amount"]) == ("charge", "failed", 1000)
    assert (paid["invoice"]["status"], paid["invoice"]["attempt_count"]) == ("open", 1)
    assert paid["invoice"]["next_payment_attempt_at"] is not None
    retried = act(api, invoice["id"], "retry_payment")
    assert retried["payment_attempt"] is None  # not due yet
    assert retried["invoice"]["attempt_count"] == 1


def test_sixteen_concurrent_finalizations_over_http_get_sixteen_consecutive_numbers(
    api: Client,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    drafts = [draft(api, None, line("x", 100 + i))["id"] for i in range(16)]
    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(lambda i: api.post(f"/v1/invoices/{i}/finalize"), drafts))
    numbers = [api.ok(r)["invoice"]["number"] for r in responses]
    # The threads raced on the client's remembered position; read after all of them.
    api.position = max(int(r.headers["Tally-Position"]) for r in responses)
    assert sorted(int(n[-6:]) for n in numbers) == list(range(1, 17))
    listed = api.ok(api.get("/v1/invoices", status="open", limit=100))["data"]
    assert sorted(i["number"] for i in listed) == sorted(numbers)
