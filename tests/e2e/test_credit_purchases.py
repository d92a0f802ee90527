"""Prepaid credits bought on an invoice, over HTTP (issue 13): the paid credits come
once when the invoice is paid (a provider's ``invoice.paid`` delivered twice, and once
more under another event id, grants once; an out-of-band payment too), never when it is
voided; the journal earns the invoice's revenue once, when the credits are consumed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.clock import FixedClock
from api.settings import Settings
from tests.e2e.billing import customer, problem
from tests.e2e.conftest import Client, serve
from tests.e2e.test_payments import replayed_equal
from tests.e2e.test_webhooks import deliver, event, events, settle


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[Client]:
    with serve(settings.model_copy(update={"run_outbox": False}), clock) as client:
        yield client


def buy(api: Client, cid: str, amount: int, **fields: Any) -> dict[str, Any]:
    body = {"customer_id": cid, "amount": amount, **fields}
    return api.ok(api.post("/v1/credit_purchases", body, key=f"buy-{cid}"), 201)


def books(api: Client) -> dict[str, Any]:
    found = api.ok(api.get("/v1/reports/trial_balance"))
    eur: dict[str, Any] = found["EUR"] if "EUR" in found else found["currencies"]["EUR"]
    return eur


def credits_of(api: Client, cid: str) -> list[dict[str, Any]]:
    grants: list[dict[str, Any]] = api.ok(api.get("/v1/credit_grants", customer=cid))["data"]
    return grants


def invoice_paid(event_id: str, invoice_id: str, amount: int) -> dict[str, Any]:
    refs = {"tally_invoice": invoice_id}
    return event(
        event_id, "invoice.paid", object_ref="in_1", amount_minor=amount, currency="EUR",
        references=refs,
    )  # fmt: skip


def test_paying_the_invoice_grants_the_credits_once_and_earns_revenue_once(shop: Client) -> None:
    cid = customer(shop, "ada")
    bought = buy(shop, cid, 500, priority=4, description="Starter pack")
    invoice = bought["invoice"]
    assert (bought["status"], bought["amount"], bought["object"]) == (
        "invoiced", 500, "credit_purchase",
    )  # fmt: skip
    assert (invoice["status"], invoice["total"], len(invoice["lines"])) == ("open", 500, 1)
    body = {"customer_id": cid, "amount": 500, "priority": 4, "description": "Starter pack"}
    again = shop.post("/v1/credit_purchases", body, key=f"buy-{cid}")  # a retry: no 2nd
    assert again.json()["invoice_id"] == invoice["id"]
    assert again.headers["Idempotency-Replayed"] == "true"
    assert credits_of(shop, cid) == []
    paid = invoice_paid("evt_credits_paid", invoice["id"], 500)
    shop.ok(deliver(shop, paid))
    settle(shop)
    shop.ok(deliver(shop, paid))  # redelivered: a duplicate
    shop.ok(deliver(shop, invoice_paid("evt_credits_paid_again", invoice["id"], 500)))
    settle(shop, retry_parked=True)
    assert len(events(shop)) == 2
    [grant] = credits_of(shop, cid)
    assert grant["id"] == bought["grant_id"]
    assert (grant["kind"], grant["amount"], grant["priority"]) == ("paid", 500, 4)
    assert grant["source"] == f"invoice:{invoice['id']}"
    assert shop.ok(shop.get(f"/v1/invoices/{invoice['id']}"))["status"] == "paid"
    eur = books(shop)
    assert eur["accounts"][f"credits:{cid}"] == 500
    assert eur["accounts"].get("revenue", 0) == 0  # a liability until consumed
    assert eur["accounts"][f"receivable:{cid}"] == 0
    assert eur["accounts"]["clearing:stub"] == -500
    body = {"customer_id": cid, "amount": 120}
    shop.ok(shop.post("/v1/credits/consume", body), 201)
    eur = books(shop)
    assert (eur["accounts"]["revenue"], eur["accounts"][f"credits:{cid}"]) == (120, 380)
    assert eur["total"] == 0
    problem(shop.post(f"/v1/credit_grants/{grant['id']}/void"), 409, "invalid_transition")
    replayed_equal(shop)  # the read models rebuilt from the log: the same numbers


def test_an_out_of_band_payment_grants_the_credits(shop: Client) -> None:
    cid = customer(shop, "bob")
    bought = buy(shop, cid, 300)
    pay = {"method": "out_of_band", "reference": "wire-1"}
    shop.ok(shop.post(f"/v1/invoices/{bought['invoice']['id']}/pay", pay))
    [grant] = credits_of(shop, cid)
    assert (grant["amount"], grant["remaining"]) == (300, 300)
    assert books(shop)["accounts"][f"credits:{cid}"] == 300


def test_a_voided_invoice_grants_nothing_and_leaves_nothing_in_the_books(shop: Client) -> None:
    cid = customer(shop, "cy")
    bought = buy(shop, cid, 700)
    invoice_id = bought["invoice"]["id"]
    shop.ok(shop.post(f"/v1/invoices/{invoice_id}/void"))
    pay = {"method": "out_of_band", "reference": "wire-2"}
    problem(shop.post(f"/v1/invoices/{invoice_id}/pay", pay), 409, "invalid_transition")
    shop.ok(deliver(shop, invoice_paid("evt_void_paid", invoice_id, 700)))
    settle(shop, retry_parked=True)
    assert credits_of(shop, cid) == []
    accounts = books(shop)["accounts"]
    assert accounts.get(f"credits:{cid}", 0) == 0
    assert accounts.get(f"receivable:{cid}", 0) == 0
    assert accounts.get("revenue", 0) == 0
    replayed_equal(shop)


def test_a_purchase_in_another_currency_or_for_another_projects_customer_is_refused(
    shop: Client, other: Client
) -> None:
    cid = customer(shop, "dee")
    body = {"customer_id": cid, "amount": 100, "currency": "USD"}
    problem(shop.post("/v1/credit_purchases", body), 422, "currency_mismatch")
    problem(
        other.post("/v1/credit_purchases", {"customer_id": cid, "amount": 100}), 404, "not_found"
    )
    assert credits_of(shop, cid) == []


def test_an_invoice_the_customers_credit_balance_covers_grants_at_once(shop: Client) -> None:
    """Finalization pays it from the customer's credit balance: the same write grants."""
    cid = customer(shop, "eve")
    adjust = {"amount": 1000, "reason": "goodwill"}
    shop.ok(shop.post(f"/v1/customers/{cid}/credit_balance", adjust))
    bought = buy(shop, cid, 600)
    assert (bought["status"], bought["invoice"]["status"]) == ("granted", "paid")
    [grant] = credits_of(shop, cid)
    assert (grant["id"], grant["amount"]) == (bought["grant_id"], 600)
    eur = books(shop)
    assert eur["accounts"][f"credits:{cid}"] == 600
    assert eur["accounts"].get("revenue", 0) == 0
    assert eur["total"] == 0
