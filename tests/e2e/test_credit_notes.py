"""Credit notes over HTTP: to the credit balance, back to the paying wallet, against
what is still owed; their accounting in the trial balance; lists per invoice and
customer; idempotent replays; tenancy."""

from __future__ import annotations

from typing import Any

from tests.e2e.billing import customer, problem
from tests.e2e.conftest import Client, nothing_written
from tests.e2e.invoicing import act, draft, line, tax_rate, wallet


def _paid(api: Client, buyer: str, *lines: dict[str, Any]) -> dict[str, Any]:
    invoice = draft(api, buyer, *lines)
    act(api, invoice["id"], "finalize")
    paid: dict[str, Any] = act(api, invoice["id"], "pay", {"method": "wallet"})["invoice"]
    return paid


def test_credit_to_the_balance_is_used_by_the_next_invoice(api: Client) -> None:
    buyer = customer(api)
    wallet(api, buyer, 5000)
    invoice = _paid(api, buyer, line("Work", 2000))
    note = act(api, invoice["id"], "credit_notes", {"amount": 500, "reason": "outage"}, 201)
    assert note["credit_note"]["id"] == f"{invoice['number']}-CN1"
    assert (note["credit_note"]["amount"], note["credit_note"]["reason"]) == (500, "outage")
    assert note["credit_balance"] == 500
    # Paid money given back (here as credit) counts as refunded; credited is what was owed.
    assert (note["invoice"]["amount_refunded"], note["invoice"]["amount_credited"]) == (500, 0)
    nxt = draft(api, buyer, line("More", 800))
    final = act(api, nxt["id"], "finalize")["invoice"]
    assert (final["credit_applied"], final["amount_remaining"]) == (500, 300)


def test_refund_to_the_original_wallet_payment(api: Client) -> None:
    buyer = customer(api)
    account_id = wallet(api, buyer, 5000)
    invoice = _paid(api, buyer, line("Work", 2000))
    assert api.account(account_id)["available_balance"] == 3000
    note = act(api, invoice["id"], "credit_notes", {"refund_to": "original_payment"}, 201)
    assert note["credit_note"]["amount"] == 2000
    assert note["transaction"] is not None
    assert note["invoice"]["amount_refunded"] == 2000
    assert api.account(account_id)["available_balance"] == 5000
    with nothing_written(api.tally):
        again = api.post(f"/v1/invoices/{invoice['id']}/credit_notes", {"amount": 1})
    problem(again, 422, "credit_exceeds_paid")


def test_credit_against_what_is_owed_lowers_the_remaining_and_reverses_tax(api: Client) -> None:
    vat = tax_rate(api, "20")
    buyer = customer(api)
    invoice = draft(api, buyer, line("Work", 1000, tax_rate_ids=[vat]))
    act(api, invoice["id"], "finalize")
    # 600 of a 1200 total (200 tax): the tax part is 600 x 200 / 1200 = 100.
    note = act(api, invoice["id"], "credit_notes", {"amount": 600, "refund_to": "none"}, 201)
    assert note["invoice"]["amount_remaining"] == 600
    eur = api.ok(api.get("/v1/reports/trial_balance"))["currencies"]["EUR"]
    assert eur["accounts"]["revenue"] == 1000 - 500
    assert eur["accounts"][f"tax_payable:{vat}"] == 200 - 100
    assert eur["accounts"][f"receivable:{buyer}"] == -1200 + 600
    assert eur["total"] == 0


def test_a_draft_cannot_be_credited(api: Client) -> None:
    invoice = draft(api, None, line("Work", 1000))
    with nothing_written(api.tally):
        response = api.post(f"/v1/invoices/{invoice['id']}/credit_notes", {"refund_to": "none"})
    problem(response, 409, "invalid_transition")


def test_list_per_invoice_and_customer(api: Client) -> None:
    ada, bob = customer(api, "ada"), customer(api, "bob")
    wallet(api, ada, 9000)
    wallet(api, bob, 9000)
    first = _paid(api, ada, line("a", 1000))
    second = _paid(api, bob, line("b", 1000))
    one = act(api, first["id"], "credit_notes", {"amount": 100}, 201)["credit_note"]["id"]
    two = act(api, first["id"], "credit_notes", {"amount": 200}, 201)["credit_note"]["id"]
    three = act(api, second["id"], "credit_notes", {"amount": 300}, 201)["credit_note"]["id"]
    by_invoice = api.ok(api.get("/v1/credit_notes", invoice_id=first["id"]))
    assert [n["id"] for n in by_invoice["data"]] == [one, two]
    by_customer = api.ok(api.get("/v1/credit_notes", customer_id=bob))["data"]
    assert [(n["id"], n["amount"]) for n in by_customer] == [(three, 300)]
    page = api.ok(api.get("/v1/credit_notes", limit=2))
    assert ([n["id"] for n in page["data"]], page["has_more"]) == ([one, two], True)
    rest = api.ok(api.get("/v1/credit_notes", starting_after=two))
    assert [n["id"] for n in rest["data"]] == [three]


def test_credit_note_replays_under_its_key_and_is_invisible_elsewhere(
    api: Client, other: Client
) -> None:
    buyer = customer(api)
    wallet(api, buyer, 5000)
    invoice = _paid(api, buyer, line("Work", 2000))
    path = f"/v1/invoices/{invoice['id']}/credit_notes"
    first = api.post(path, {"amount": 700}, key="cn-1")
    with nothing_written(api.tally):
        again = api.post(path, {"amount": 700}, key="cn-1")
        foreign = other.post(path, {"amount": 1})
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.json() == first.json()
    problem(foreign, 404, "not_found")
    assert api.ok(other.get("/v1/credit_notes"))["data"] == []
    assert len(api.ok(api.get("/v1/credit_notes"))["data"]) == 1
