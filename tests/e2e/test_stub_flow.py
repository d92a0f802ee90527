"""The stub provider end to end over HTTP, as on a fresh machine: a subscription checkout
paid on the stub's hosted page, its webhook, the subscription active and its first
invoice paid; a wallet top-up by saved card and one by hosted page; a refund. Balances,
transactions and journal entries are checked at each step."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import pytest

from adapters.clock import FixedClock
from adapters.providers.stub import DECLINED, SUCCEEDS
from api.settings import Settings
from tests.e2e.billing import customer, plan
from tests.e2e.conftest import Client, serve
from tests.e2e.invoicing import act, draft, line

BACK = {"success_url": "https://shop.example/paid", "cancel_url": "https://shop.example/back"}


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[Client]:
    # No outbox thread: the test drives the outbox itself, so each step is deterministic.
    with serve(settings.model_copy(update={"run_outbox": False}), clock) as client:
        yield client


def press(api: Client, url: str, button: str = "pay", card: str = SUCCEEDS) -> str:
    """Load the hosted page, press a button; returns where the browser is sent."""
    path = urlsplit(url).path
    page = api.http.get(path)
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert 'value="pay"' in page.text
    assert 'value="cancel"' in page.text
    pressed = api.http.post(
        path,
        content=f"button={button}&card_number={card}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert pressed.status_code == 303, pressed.text
    return str(pressed.headers["location"])


def settle(api: Client) -> None:
    """Let the outbox apply what was recorded, then read after it."""
    api.tally.outbox.drain()
    api.position = int(api.tally.store.recorder.max_notification_id() or 0)


def entries(api: Client, account_id: str) -> list[dict[str, Any]]:
    body = api.ok(api.get(f"/v1/accounts/{account_id}/entries"))
    data: list[dict[str, Any]] = body["data"]
    return data


def test_subscription_checkout_paid_on_the_stub_page_activates_and_pays_the_invoice(
    shop: Client,
) -> None:
    price_id = plan(shop, "PRO", 2900)
    ada = customer(shop, "ada")
    body = {"customer_id": ada, "items": [{"price_id": price_id}], **BACK}
    started = shop.ok(shop.post("/v1/checkout/subscription", body), 201)
    assert started["subscription"]["status"] == "incomplete"
    assert started["provider_call"]["state"] == "succeeded"
    assert started["url"].startswith("http://127.0.0.1:8000/v1/stub/checkout/")

    assert press(shop, started["url"]) == BACK["success_url"]
    settle(shop)

    sub = shop.ok(shop.get(f"/v1/subscriptions/{started['subscription']['id']}"))
    assert sub["status"] == "active"
    # No invoice route yet: the invoice aggregate itself says it is paid.
    invoice: Any = shop.tally.store.repository.get(UUID(started["invoice"]["id"]))
    assert (invoice.status, invoice.amount_paid) == ("paid", 2900)
    events = shop.ok(shop.get("/v1/webhook_events"))["data"]
    assert sorted(e["type"] for e in events) == ["checkout.completed", "payment.succeeded"]
    assert sorted(e["status"] for e in events) == ["applied", "ignored"]
    methods = shop.ok(shop.get("/v1/payment_methods", customer_id=ada))
    assert methods["default"] == f"stub_pm_{SUCCEEDS}"


def test_top_up_by_saved_card_completes_and_refund_reverses_it(shop: Client) -> None:
    account = shop.open_account("ada")
    body = {"amount": 5000, "currency": "EUR", "payment_method": f"stub_pm_{SUCCEEDS}"}
    topped = shop.ok(shop.post(f"/v1/accounts/{account}/top_ups", body), 201)
    assert topped["transaction"]["state"] == "processing"  # as the command recorded it
    assert topped["provider_call"]["state"] == "succeeded"
    txn_id = topped["transaction"]["id"]
    txn = shop.ok(shop.get(f"/v1/transactions/{txn_id}"))
    assert txn["state"] == "completed"
    assert shop.account(account)["ledger_balance"] == 5000
    [entry] = entries(shop, account)
    assert {(p["account"], p["amount"]) for p in entry["postings"]} == {
        (f"wallet:{account}", 5000),
        ("clearing:stub", -5000),
    }

    refunded = shop.ok(shop.post(f"/v1/transactions/{txn_id}/refunds", {"amount": 2000}), 202)
    assert refunded["provider_call"]["operation"] == "refund"
    assert refunded["provider_call"]["state"] == "succeeded"
    txn = shop.ok(shop.get(f"/v1/transactions/{txn_id}"))
    assert (txn["state"], txn["reversed_amount"]) == ("reversed", 2000)
    assert shop.account(account)["ledger_balance"] == 3000
    reversal = entries(shop, account)[-1]
    assert {(p["account"], p["amount"]) for p in reversal["postings"]} == {
        (f"wallet:{account}", -2000),
        ("clearing:stub", 2000),
    }


def test_top_up_through_the_hosted_page_completes_only_when_paid(shop: Client) -> None:
    account = shop.open_account("bob")
    topped = shop.ok(
        shop.post(f"/v1/accounts/{account}/top_ups", {"amount": 1200, "currency": "EUR", **BACK}),
        201,
    )
    txn_id = topped["transaction"]["id"]
    settle(shop)
    assert shop.ok(shop.get(f"/v1/transactions/{txn_id}"))["state"] == "processing"
    assert shop.account(account)["ledger_balance"] == 0

    # A declined card sends the customer back to the page, which is still open: the
    # top-up waits for the payment they make there, or for the checkout's end.
    assert press(shop, topped["url"], card=DECLINED).startswith(topped["url"])
    settle(shop)
    assert shop.ok(shop.get(f"/v1/transactions/{txn_id}"))["state"] == "processing"
    assert shop.account(account)["ledger_balance"] == 0
    press(shop, topped["url"])
    settle(shop)
    assert shop.ok(shop.get(f"/v1/transactions/{txn_id}"))["state"] == "completed"
    assert shop.account(account)["ledger_balance"] == 1200


def test_top_up_whose_checkout_is_canceled_fails(shop: Client) -> None:
    account = shop.open_account("bo")
    topped = shop.ok(
        shop.post(f"/v1/accounts/{account}/top_ups", {"amount": 800, "currency": "EUR", **BACK}),
        201,
    )
    press(shop, topped["url"], card=DECLINED)
    press(shop, topped["url"], button="cancel")
    settle(shop)
    txn = shop.ok(shop.get(f"/v1/transactions/{topped['transaction']['id']}"))
    assert txn["state"] == "failed"
    assert shop.account(account)["ledger_balance"] == 0


def test_top_up_through_the_hosted_page_credits_the_wallet(shop: Client) -> None:
    account = shop.open_account("cy")
    topped = shop.ok(
        shop.post(f"/v1/accounts/{account}/top_ups", {"amount": 700, "currency": "EUR", **BACK}),
        201,
    )
    press(shop, topped["url"])
    settle(shop)
    txn = shop.ok(shop.get(f"/v1/transactions/{topped['transaction']['id']}"))
    assert txn["state"] == "completed"
    assert shop.account(account)["ledger_balance"] == 700
    call = shop.ok(shop.get(f"/v1/provider_calls/{topped['provider_call']['id']}"))
    assert call["payment_ref"].startswith("stub_pi_")


def system(api: Client) -> dict[str, int]:
    """System account balances (one currency here) by account."""
    rows = api.ok(api.get("/v1/system_accounts", limit=100))["data"]
    return {str(r["account"]): int(r["balance"]) for r in rows}


def clearing(api: Client) -> int:
    rows: list[dict[str, Any]] = api.ok(api.get("/v1/system_accounts"))["data"]
    return sum(int(r["balance"]) for r in rows if r["account"] == "clearing:stub")


def test_one_customer_from_checkout_to_refund_with_the_books_at_each_step(shop: Client) -> None:
    price_id = plan(shop, "TEAM", 4900)
    ada = customer(shop, "ada")
    wallet = shop.open_account(ada)

    # 1. Subscription checkout, paid on the hosted page: active, invoice paid, card saved.
    body = {"customer_id": ada, "items": [{"price_id": price_id}], **BACK}
    started = shop.ok(shop.post("/v1/checkout/subscription", body), 201)
    press(shop, started["url"])
    settle(shop)
    assert shop.ok(shop.get(f"/v1/subscriptions/{started['subscription']['id']}"))["status"] == (
        "active"
    )
    invoice: Any = shop.tally.store.repository.get(UUID(started["invoice"]["id"]))
    assert (invoice.status, invoice.amount_remaining) == ("paid", 0)
    # The payment is a ledger Transaction, completed: clearing:stub -> receivable.
    [payment] = invoice.payments
    txn = shop.ok(shop.get(f"/v1/transactions/{payment['transaction_id']}"))
    assert (txn["state"], txn["amount"], txn["from"]) == ("completed", 4900, "clearing:stub")
    saved = shop.ok(shop.get("/v1/payment_methods", customer_id=ada))["default"]
    assert saved == f"stub_pm_{SUCCEEDS}"
    assert shop.account(wallet)["ledger_balance"] == 0
    # The stub collected the invoice: the money is in its clearing account, the
    # customer owes nothing, the revenue is booked.
    books = system(shop)
    assert books["clearing:stub"] == -4900
    assert books[f"receivable:{ada}"] == 0
    assert books["revenue"] == 4900

    # 2. A wallet top-up charged off-session to the saved card: credited once.
    top_up = {"amount": 6000, "currency": "EUR", "payment_method": saved}
    topped = shop.ok(shop.post(f"/v1/accounts/{wallet}/top_ups", top_up, key="top-1"), 201)
    replay = shop.post(f"/v1/accounts/{wallet}/top_ups", top_up, key="top-1")
    assert replay.headers["Idempotency-Replayed"] == "true"
    settle(shop)
    assert shop.account(wallet)["ledger_balance"] == 6000
    assert len(entries(shop, wallet)) == 1
    assert clearing(shop) == -4900 - 6000

    # 3. A partial refund through the provider, then the rest.
    txn_id = topped["transaction"]["id"]
    shop.ok(shop.post(f"/v1/transactions/{txn_id}/refunds", {"amount": 1500}, key="r-1"), 202)
    settle(shop)
    assert shop.account(wallet)["ledger_balance"] == 4500
    assert clearing(shop) == -4900 - 4500
    rest = shop.ok(shop.post(f"/v1/transactions/{txn_id}/refunds", None, key="r-2"), 202)
    assert rest["provider_call"]["amount"] == 4500
    settle(shop)
    assert shop.account(wallet)["ledger_balance"] == 0
    assert clearing(shop) == -4900
    postings = [
        sorted((p["account"], p["amount"]) for p in e["postings"]) for e in entries(shop, wallet)
    ]
    assert postings == [
        [("clearing:stub", -6000), (f"wallet:{wallet}", 6000)],
        [("clearing:stub", 1500), (f"wallet:{wallet}", -1500)],
        [("clearing:stub", 4500), (f"wallet:{wallet}", -4500)],
    ]

    # 4. An invoice charged off-session to the saved card, by the outbox after the
    # command committed; then a credit note refunds part of it through the provider.
    extra = draft(shop, ada, line("Setup", 1000))
    act(shop, extra["id"], "finalize")
    paid = act(shop, extra["id"], "pay", {"method": "provider"})
    assert paid["payment_attempt"]["status"] == "succeeded"
    assert paid["invoice"]["status"] == "paid"
    settle(shop)
    books = system(shop)
    assert (books["clearing:stub"], books[f"receivable:{ada}"]) == (-5900, 0)
    note = {"amount": 400, "refund_to": "original_payment", "reason": "goodwill"}
    credited = shop.ok(shop.post(f"/v1/invoices/{extra['id']}/credit_notes", note), 201)
    assert credited["credit_note"]["refunded_to"] == "clearing:stub"
    settle(shop)
    refund = shop.ok(shop.get(f"/v1/provider_calls/{credited['refund_call']['id']}"))
    assert (refund["operation"], refund["state"], refund["amount"]) == ("refund", "succeeded", 400)
    books = system(shop)
    assert (books["clearing:stub"], books["revenue"]) == (-5500, 5500)
    balance = shop.ok(shop.get("/v1/reports/trial_balance"))
    assert {c: int(v["total"]) for c, v in balance["currencies"].items()} == {"EUR": 0}

    calls = shop.ok(shop.get("/v1/provider_calls", limit=100))["data"]
    assert sorted(c["operation"] for c in calls) == [
        "charge",
        "charge",
        "checkout",
        "refund",
        "refund",
        "refund",
    ]
    assert {c["state"] for c in calls} == {"succeeded"}


def test_a_card_used_for_a_customers_hosted_top_up_becomes_their_payment_method(
    shop: Client,
) -> None:
    dee = customer(shop, "dee")
    wallet = shop.open_account(dee)
    body = {"amount": 300, "currency": "EUR", **BACK}
    topped = shop.ok(shop.post(f"/v1/accounts/{wallet}/top_ups", body), 201)
    press(shop, topped["url"], card="4000002500003155")  # authenticates on the page
    settle(shop)
    assert shop.account(wallet)["ledger_balance"] == 300
    methods = shop.ok(shop.get("/v1/payment_methods", customer_id=dee))
    assert [m["id"] for m in methods["data"]] == ["stub_pm_4000002500003155"]
    # Off-session, the same card needs the customer: the charge fails, nothing is credited.
    again = {"amount": 300, "currency": "EUR", "payment_method": methods["default"]}
    refused = shop.ok(shop.post(f"/v1/accounts/{wallet}/top_ups", again), 201)
    assert refused["provider_call"]["error_code"] == "payment_requires_action"
    settle(shop)
    assert shop.account(wallet)["ledger_balance"] == 300
