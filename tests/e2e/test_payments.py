"""The public payment object over HTTP (issue 12): ``GET /v1/payments/{id}`` and
``GET /v1/payments``, built from what was recorded: a provider charge that succeeds,
fails, or is still processing until its webhook; an out-of-band payment; refunds in part
and in full. One payment per payment, whichever way it was settled, scoped to its
project, and the same after a replay of the log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.clock import FixedClock
from adapters.providers.base import RefundOutcome, RefundRequest
from adapters.providers.stub import DECLINED, SUCCEEDS, StubProvider
from api.settings import Settings
from commands.provider_errors import ProviderError
from projections.replay import replay
from tests.e2e.billing import card, customer
from tests.e2e.conftest import Client, head, make_client, serve
from tests.e2e.invoicing import act, draft, line
from tests.e2e.test_invoice_charges import Processing
from tests.e2e.test_webhooks import deliver, event


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[Client]:
    # No outbox thread: each test makes the provider calls itself, in a known order.
    with serve(settings.model_copy(update={"run_outbox": False}), clock) as client:
        yield client


def settle(api: Client) -> None:
    api.tally.outbox.drain()
    api.position = head(api.tally)


def open_invoice(api: Client, buyer: str, amount: int) -> str:
    invoice = draft(api, buyer, line("Work", amount))
    act(api, invoice["id"], "finalize")
    return str(invoice["id"])


def payment(api: Client, payment_id: str) -> dict[str, Any]:
    found: dict[str, Any] = api.ok(api.get(f"/v1/payments/{payment_id}"))
    return found


def payments(api: Client, **filters: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.ok(api.get("/v1/payments", **filters))["data"]
    return found


def charge(api: Client, invoice_id: str) -> str:
    """Charge the invoice through the provider; the payment's id (its provider call's)."""
    attempt = act(api, invoice_id, "pay", {"method": "provider"})["payment_attempt"]
    return str(attempt["provider_call_id"])


def replayed_equal(api: Client) -> None:
    report = replay(api.tally.store, api.tally.views, api.tally.schema, progress=False)
    assert report.ok, report.summary()


def test_a_charge_that_succeeds_is_one_succeeded_payment(shop: Client) -> None:
    buyer = customer(shop, "ada")
    card(shop, buyer, SUCCEEDS)
    invoice_id = open_invoice(shop, buyer, 1000)
    payment_id = charge(shop, invoice_id)
    settle(shop)
    found = payment(shop, payment_id)
    assert found["object"] == "payment"
    assert (found["status"], found["amount"], found["amount_refunded"]) == ("succeeded", 1000, 0)
    assert (found["customer_id"], found["invoice_id"]) == (buyer, invoice_id)
    assert (found["method"], found["provider"], found["currency"]) == ("provider", "stub", "EUR")
    call = shop.ok(shop.get(f"/v1/provider_calls/{payment_id}"))
    assert found["reference"] == call["payment_ref"]
    assert found["reference"]
    assert found["transaction_id"] == call["transaction_id"]
    assert found["failure_code"] is None
    # The invoice's record of the same payment is not a second payment.
    assert [p["id"] for p in payments(shop, invoice_id=invoice_id)] == [payment_id]
    replayed_equal(shop)


def test_a_declined_charge_is_a_failed_payment_with_its_code(shop: Client) -> None:
    buyer = customer(shop, "bob")
    card(shop, buyer, DECLINED)
    invoice_id = open_invoice(shop, buyer, 800)
    payment_id = charge(shop, invoice_id)
    settle(shop)
    found = payment(shop, payment_id)
    assert (found["status"], found["failure_code"]) == ("failed", "card_declined")
    assert found["failure_message"]
    assert [p["id"] for p in payments(shop, status="failed")] == [payment_id]
    assert payments(shop, status="succeeded") == []
    replayed_equal(shop)


def test_a_charge_still_processing_succeeds_when_its_webhook_arrives(shop: Client) -> None:
    inner = shop.tally.providers.default
    assert isinstance(inner, StubProvider)
    shop.tally.providers.overrides[shop.project_id] = Processing(inner)
    buyer = customer(shop, "cy")
    card(shop, buyer, SUCCEEDS)
    invoice_id = open_invoice(shop, buyer, 1200)
    payment_id = charge(shop, invoice_id)
    settle(shop)
    assert payment(shop, payment_id)["status"] == "processing"
    refs = {"tally_invoice": invoice_id, "tally_charge_call": payment_id}
    confirmed = event(
        "evt_confirmed",
        "payment.succeeded",
        object_ref="pi_later",
        payment_ref="pi_later",
        amount_minor=1200,
        currency="EUR",
        references=refs,
    )
    shop.ok(deliver(shop, confirmed))
    settle(shop)
    found = payment(shop, payment_id)
    assert (found["status"], found["reference"]) == ("succeeded", "pi_later")
    assert len(payments(shop, invoice_id=invoice_id)) == 1
    replayed_equal(shop)


def test_credit_notes_refund_a_charge_in_part_then_in_full(shop: Client) -> None:
    buyer = customer(shop, "dee")
    card(shop, buyer, SUCCEEDS)
    invoice_id = open_invoice(shop, buyer, 1000)
    payment_id = charge(shop, invoice_id)
    settle(shop)
    body = {"amount": 300, "refund_to": "original_payment"}
    # The route makes the refund call before it answers; it counts once it succeeded.
    act(shop, invoice_id, "credit_notes", body, 201)
    settle(shop)
    found = payment(shop, payment_id)
    assert (found["status"], found["amount_refunded"]) == ("partially_refunded", 300)
    act(shop, invoice_id, "credit_notes", {"refund_to": "original_payment"}, 201)
    settle(shop)
    found = payment(shop, payment_id)
    assert (found["status"], found["amount_refunded"]) == ("refunded", 1000)
    assert [p["id"] for p in payments(shop, status="refunded")] == [payment_id]
    replayed_equal(shop)


def test_an_out_of_band_payment_is_a_payment_refunded_at_once(shop: Client) -> None:
    buyer = customer(shop, "eve")
    invoice_id = open_invoice(shop, buyer, 1000)
    body = {"method": "out_of_band", "amount": 400, "reference": "bank transfer 7"}
    act(shop, invoice_id, "pay", body)
    [found] = payments(shop, customer_id=buyer)
    assert (found["method"], found["status"], found["amount"]) == ("out_of_band", "succeeded", 400)
    assert (found["reference"], found["provider"], found["transaction_id"]) == (
        "bank transfer 7",
        None,
        None,
    )
    assert payment(shop, found["id"]) == found
    act(shop, invoice_id, "credit_notes", {"amount": 100, "refund_to": "original_payment"}, 201)
    refunded = payment(shop, found["id"])
    assert (refunded["status"], refunded["amount_refunded"]) == ("partially_refunded", 100)
    replayed_equal(shop)


def test_another_projects_payment_is_not_found(shop: Client) -> None:
    buyer = customer(shop, "fay")
    invoice_id = open_invoice(shop, buyer, 500)
    act(shop, invoice_id, "pay", {"method": "out_of_band", "reference": "cash"})
    [found] = payments(shop)
    other = make_client(shop.http, shop.tally, "globex")
    response = other.get(f"/v1/payments/{found['id']}")
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "not_found"
    assert other.ok(other.get("/v1/payments"))["data"] == []
    assert other.ok(other.get("/v1/payments", customer_id=buyer))["data"] == []


def test_the_list_pages_oldest_first(shop: Client) -> None:
    buyer = customer(shop, "gil")
    ids = []
    for n in range(3):
        invoice_id = open_invoice(shop, buyer, 100 + n)
        act(shop, invoice_id, "pay", {"method": "out_of_band", "reference": f"r{n}"})
        ids.append(payments(shop, invoice_id=invoice_id)[0]["id"])
    first = shop.ok(shop.get("/v1/payments", limit=2))
    assert ([p["id"] for p in first["data"]], first["has_more"]) == (ids[:2], True)
    rest = shop.ok(shop.get("/v1/payments", limit=2, starting_after=ids[1]))
    assert ([p["id"] for p in rest["data"]], rest["has_more"]) == (ids[2:], False)


def test_a_top_up_charge_is_a_payment_its_refund_refunds_in_part(shop: Client) -> None:
    account = shop.open_account("hal")
    body = {"amount": 5000, "currency": "EUR", "payment_method": f"stub_pm_{SUCCEEDS}"}
    topped = shop.ok(shop.post(f"/v1/accounts/{account}/top_ups", body), 201)
    payment_id = topped["provider_call"]["id"]
    txn_id = topped["transaction"]["id"]
    settle(shop)
    found = payment(shop, payment_id)
    assert (found["status"], found["amount"], found["transaction_id"]) == (
        "succeeded",
        5000,
        txn_id,
    )
    assert (found["invoice_id"], found["customer_id"]) == (None, None)  # a wallet of no one's
    shop.ok(shop.post(f"/v1/transactions/{txn_id}/refunds", {"amount": 2000}), 202)
    settle(shop)
    found = payment(shop, payment_id)
    assert (found["status"], found["amount_refunded"]) == ("partially_refunded", 2000)
    replayed_equal(shop)


def test_a_saved_card_top_up_of_a_known_customer_is_their_payment(shop: Client) -> None:
    # The charge names the provider's customer by reference (the stub keeps no customers:
    # the Tally id stands in, as a Stripe customer made before would); the payment still
    # names the Tally customer.
    buyer = customer(shop, "kim")
    card(shop, buyer, SUCCEEDS)
    settle(shop)
    wallet = shop.open_account(buyer)
    body = {"amount": 900, "currency": "EUR", "payment_method": f"stub_pm_{SUCCEEDS}"}
    topped = shop.ok(shop.post(f"/v1/accounts/{wallet}/top_ups", body), 201)
    payment_id = topped["provider_call"]["id"]
    assert topped["provider_call"]["customer_ref"]
    settle(shop)
    found = payment(shop, payment_id)
    assert (found["status"], found["customer_id"]) == ("succeeded", buyer)
    assert [p["id"] for p in payments(shop, customer_id=buyer)] == [payment_id]
    replayed_equal(shop)


class RefusesRefunds:
    """The stub as a provider that refuses every refund."""

    def __init__(self, inner: StubProvider) -> None:
        self.inner = inner
        self.name = inner.name
        self.manages_subscriptions = inner.manages_subscriptions

    def refund(self, request: RefundRequest) -> RefundOutcome:
        raise ProviderError("the charge is too old to refund", provider=self.name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_refund_the_provider_refuses_refunds_nothing(shop: Client) -> None:
    buyer = customer(shop, "ivy")
    card(shop, buyer, SUCCEEDS)
    invoice_id = open_invoice(shop, buyer, 600)
    payment_id = charge(shop, invoice_id)
    settle(shop)
    inner = shop.tally.providers.default
    assert isinstance(inner, StubProvider)
    shop.tally.providers.overrides[shop.project_id] = RefusesRefunds(inner)
    act(shop, invoice_id, "credit_notes", {"refund_to": "original_payment"}, 201)
    settle(shop)
    refunds = [
        c for c in shop.ok(shop.get("/v1/provider_calls"))["data"] if c["operation"] == "refund"
    ]
    assert [c["state"] for c in refunds] == ["failed"]
    found = payment(shop, payment_id)
    assert (found["status"], found["amount_refunded"]) == ("succeeded", 0)
    replayed_equal(shop)
