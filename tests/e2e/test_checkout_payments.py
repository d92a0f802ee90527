"""A hosted checkout's sale or wallet top-up (no invoice) is a payment too (issue 12):
through the stub provider's page, a sale and a top-up that are paid, refunded in part
and in full, and a checkout the customer cancels, are payments in ``GET /v1/payments``
(and by id), and their ``billing.payment.succeeded|failed|refunded`` events reach a
real webhook receiver (signatures verified) once each, in log order, carrying the
payment as GET answered it. A replay of the log builds the same payments."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from adapters.clock import FixedClock
from adapters.providers.stub import DECLINED, SUCCEEDS
from api.app import create_app
from api.bootstrap import Tally
from api.integration_events import event_model
from api.settings import Settings
from projections.integration_catalog import PAYMENT_TYPES, event_id
from tests.e2e.billing import client_in_mode, customer, plan
from tests.e2e.conftest import Client
from tests.e2e.sealed import sealed_build
from tests.e2e.test_payments import payment, payments, replayed_equal, settle
from tests.e2e.webhook_receiver import Receiver

BACK = {"success_url": "https://shop.example/paid", "cancel_url": "https://shop.example/back"}


@pytest.fixture
def hooks_tally(settings: Settings, clock: FixedClock) -> Iterator[Tally]:
    # The test makes the provider calls and the deliveries itself (drain), in order.
    with sealed_build(settings, clock, run_webhooks=False, run_outbox=False) as tally:
        yield tally


@pytest.fixture
def sandbox(hooks_tally: Tally) -> Iterator[Client]:
    with TestClient(create_app(hooks_tally), raise_server_exceptions=False) as http:
        yield client_in_mode(http, hooks_tally, "sandbox", "test")


def press(api: Client, url: str, button: str, card: str = SUCCEEDS) -> None:
    """Press a button of the stub's hosted page, then let the outbox catch up."""
    pressed = api.http.post(
        urlsplit(url).path,
        content=f"button={button}&card_number={card}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert pressed.status_code == 303, pressed.text
    settle(api)


def sell(api: Client, buyer: str | None, amount: int, key: str) -> dict[str, Any]:
    line = {"name": "Poster", "unit_amount": amount, "currency": "EUR"}
    body = {"line": line, **BACK, **({"customer_id": buyer} if buyer else {})}
    sold: dict[str, Any] = api.ok(api.post("/v1/checkout/item", body, key=key), 201)
    return sold


def refund(api: Client, transaction_id: str, amount: int | None = None) -> None:
    body = {} if amount is None else {"amount": amount}
    api.ok(api.post(f"/v1/transactions/{transaction_id}/refunds", body), 202)
    settle(api)


def test_checkout_sales_and_top_ups_are_payments_whose_events_arrive_once(
    sandbox: Client, receiver: Receiver
) -> None:
    body = {"url": receiver.url, "enabled_events": sorted(PAYMENT_TYPES)}
    receiver.secret = sandbox.ok(sandbox.post("/v1/webhook_endpoints", body), 201)["secret"]
    ada = customer(sandbox, "ada")
    sold = sell(sandbox, ada, 2500, "sale-1")
    sale_id = sold["provider_call"]["id"]
    pending = payment(sandbox, sale_id)
    assert (pending["status"], pending["amount"], pending["invoice_id"]) == ("pending", 2500, None)
    press(sandbox, sold["url"], "pay")
    sale_paid = payment(sandbox, sale_id)
    wallet = sandbox.open_account(ada)
    top_up = {"amount": 4000, "currency": "EUR", **BACK}
    topped = sandbox.ok(sandbox.post(f"/v1/accounts/{wallet}/top_ups", top_up), 201)
    top_up_id = topped["provider_call"]["id"]
    press(sandbox, topped["url"], "pay")
    top_up_paid = payment(sandbox, top_up_id)
    refund(sandbox, sold["transaction"]["id"], 1000)
    sale_part = payment(sandbox, sale_id)
    refund(sandbox, topped["transaction"]["id"])
    top_up_back = payment(sandbox, top_up_id)
    abandoned = sell(sandbox, None, 700, "sale-2")
    press(sandbox, abandoned["url"], "cancel")
    canceled = payment(sandbox, abandoned["provider_call"]["id"])

    assert (sale_paid["status"], sale_paid["customer_id"], sale_paid["method"]) == (
        "succeeded",
        ada,
        "provider",
    )
    assert sale_paid["transaction_id"] == sold["transaction"]["id"]
    assert sale_paid["reference"]  # the provider's payment id, from its webhook
    assert (top_up_paid["status"], top_up_paid["amount"], top_up_paid["customer_id"]) == (
        "succeeded",
        4000,
        ada,
    )
    assert (sale_part["status"], sale_part["amount_refunded"]) == ("partially_refunded", 1000)
    assert (top_up_back["status"], top_up_back["amount_refunded"]) == ("refunded", 4000)
    assert (canceled["status"], canceled["customer_id"]) == ("failed", None)
    listed = payments(sandbox)
    assert [p["id"] for p in listed] == [sale_id, top_up_id, abandoned["provider_call"]["id"]]
    assert [p["id"] for p in payments(sandbox, customer_id=ada)] == [sale_id, top_up_id]

    sandbox.tally.webhooks.drain()
    sandbox.tally.webhooks.drain()  # nothing is sent twice
    received = receiver.received
    assert [(e["type"], e["data"]["object"]) for e in received] == [
        ("billing.payment.succeeded", sale_paid),
        ("billing.payment.succeeded", top_up_paid),
        ("billing.payment.refunded", sale_part),
        ("billing.payment.refunded", top_up_back),
        ("billing.payment.failed", canceled),
    ]
    positions = [e["position"] for e in received]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    assert len(set(receiver.ids())) == len(received)
    for e in received:
        assert e["id"] == event_id(e["position"], e["type"], e["ordinal"])
        event_model(e["type"]).model_validate(e)
    replayed_equal(sandbox)


def test_a_subscriptions_checkout_is_one_payment_of_its_invoice(sandbox: Client) -> None:
    """A subscription's checkout pays its invoice: the invoice records the payment, and
    the checkout call itself is not a second one."""
    buyer = customer(sandbox, "cy")
    price = plan(sandbox, "PRO", 1900)
    body = {"customer_id": buyer, "items": [{"price_id": price}], **BACK}
    started = sandbox.ok(sandbox.post("/v1/checkout/subscription", body), 201)
    press(sandbox, started["url"], "pay")
    made = payments(sandbox, customer_id=buyer)
    assert [(p["status"], p["amount"], p["invoice_id"]) for p in made] == [
        ("succeeded", 1900, started["invoice"]["id"])
    ]
    replayed_equal(sandbox)


def test_a_card_declined_on_the_page_then_one_that_pays_is_one_succeeded_payment(
    sandbox: Client, receiver: Receiver
) -> None:
    """The customer stays on the page after a decline and pays with another card: the
    payment succeeds once and never failed (before, the decline failed the sale's
    transaction and the payment made after it was ignored: paid, and recorded as not)."""
    body = {"url": receiver.url, "enabled_events": sorted(PAYMENT_TYPES)}
    receiver.secret = sandbox.ok(sandbox.post("/v1/webhook_endpoints", body), 201)["secret"]
    sold = sell(sandbox, customer(sandbox, "dee"), 1800, "sale-3")
    press(sandbox, sold["url"], "pay", DECLINED)
    assert payment(sandbox, sold["provider_call"]["id"])["status"] == "pending"
    press(sandbox, sold["url"], "pay")
    paid = payment(sandbox, sold["provider_call"]["id"])
    assert (paid["status"], paid["failure_code"]) == ("succeeded", None)
    txn = sandbox.ok(sandbox.get(f"/v1/transactions/{sold['transaction']['id']}"))
    assert txn["state"] == "completed"
    sandbox.tally.webhooks.drain()
    assert [(e["type"], e["data"]["object"]) for e in receiver.received] == [
        ("billing.payment.succeeded", paid)
    ]
    replayed_equal(sandbox)
