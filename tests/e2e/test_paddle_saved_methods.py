"""A Paddle payment method saved by a webhook, charged for an invoice (issue 18, item 8),
over HTTP against a fake Paddle on 127.0.0.1: ``transaction.completed`` saves the
customer's ``paymtd_...`` method, and the invoice's charge bills the Paddle subscription
that method pays (``POST /subscriptions/{sub}/charge``), never a subscription named by
the method's id; a method that pays no subscription fails the charge into dunning."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.e2e.billing import customer
from tests.e2e.conftest import Client
from tests.e2e.invoicing import act, draft, line
from tests.e2e.paddle_sandbox import notify, shop
from tests.integration.provider_fake import FakeApi, Reply, Seen
from tests.paddle_openapi import answered_item

__all__ = ["shop"]  # the fixture this module's tests use

CUSTOMER = "ctm_01hv6y1jedq4p1n0yqn5ba3ky4"
METHOD = "paymtd_01hv8wrpb6bs6x6m4ph9qrr5yp"
SUB = "sub_01hv8x29kz0t586xy6zn1a62ny"
FIRST = "txn_01hv8wptq8987qeep44cyrewp9"


class FakePaddle:
    """A customer whose first payment (``FIRST``) made a subscription, or not."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.subscription: str | None = SUB
        self.charges: list[dict[str, Any]] = []
        self.charge_status = "completed"

    def __call__(self, seen: Seen) -> Reply:
        with self.lock:
            if seen.method == "POST" and seen.path == "/customers":
                return Reply(201, {"data": {"id": CUSTOMER, "email": seen.json()["email"]}})
            if seen.method == "GET" and seen.path == "/transactions":
                if seen.query.get("customer_id") == [CUSTOMER]:
                    first = {
                        "id": FIRST,
                        "status": "completed",
                        "subscription_id": self.subscription,
                        "payments": [{"payment_method_id": METHOD, "status": "captured"}],
                    }
                    return Reply(200, {"data": [first], "meta": {}})
                return Reply(200, {"data": self.charges, "meta": {}})
            if seen.method == "POST" and seen.path == f"/subscriptions/{SUB}/charge":
                n = len(self.charges)
                charged = {
                    "id": f"txn_01hv8wptq8987qeep44cyrew{n:02d}",
                    "status": self.charge_status,
                }
                self.charges.append({**charged, "items": [answered_item(seen.json()["items"][0])]})
                return Reply(200, {"data": {"id": SUB, "status": "active"}})
            return Reply(404, {"error": {"code": "not_found", "detail": seen.path}})


@pytest.fixture
def fake() -> FakePaddle:
    return FakePaddle()


def first_payment(api: Client, customer_id: str) -> None:
    """Paddle reports the customer's first payment, made with the saved method."""
    notification = {
        "event_id": "evt_01hv8x2acma2gz6her25cnys9a",
        "event_type": "transaction.completed",
        "occurred_at": "2026-11-21T10:00:00Z",
        "notification_id": "ntf_01hv8x2af4sd0yr8b9c4bj7afy",
        "data": {
            "id": FIRST,
            "status": "completed",
            "customer_id": CUSTOMER,
            "subscription_id": SUB,
            "currency_code": "EUR",
            "custom_data": {"tally_customer": customer_id},
            "details": {"totals": {"total": "900", "currency_code": "EUR"}},
            "payments": [{"payment_method_id": METHOD, "status": "captured"}],
        },
    }
    notify(api, notification)
    methods = api.ok(api.get("/v1/payment_methods", customer_id=customer_id))["data"]
    assert [m["id"] for m in methods] == [METHOD]


def test_a_saved_paddle_method_pays_an_invoice_through_its_subscription(
    shop: tuple[Client, FakeApi],
) -> None:
    api, paddle = shop
    ida = customer(api, "ida", email="ida@example.com")
    first_payment(api, ida)
    invoice = draft(api, ida, line("Consulting", 2500))
    act(api, invoice["id"], "finalize")
    paid = act(api, invoice["id"], "pay", {"method": "provider"})
    assert paid["payment_attempt"]["status"] == "succeeded"
    assert paid["invoice"]["status"] == "paid"
    [charge] = paddle.sent("POST", "/subscriptions/")
    assert charge.path == f"/subscriptions/{SUB}/charge"
    price = charge.json()["items"][0]["price"]
    assert price["unit_price"] == {"amount": "2500", "currency_code": "EUR"}


def test_a_method_that_pays_no_paddle_subscription_fails_the_charge_into_dunning(
    shop: tuple[Client, FakeApi], fake: FakePaddle
) -> None:
    api, paddle = shop
    fake.subscription = None  # the first payment was a one-time checkout
    ida = customer(api, "ida", email="ida@example.com")
    first_payment(api, ida)
    invoice = draft(api, ida, line("Consulting", 2500))
    act(api, invoice["id"], "finalize")
    paid = act(api, invoice["id"], "pay", {"method": "provider"})
    attempt = paid["payment_attempt"]
    assert (attempt["status"], attempt["failure_reason"]) == ("failed", "provider_unsupported")
    assert paid["invoice"]["status"] == "open"
    assert paddle.sent("POST", "/subscriptions/") == []


def test_a_processing_paddle_charge_is_settled_once_by_its_webhook(
    shop: tuple[Client, FakeApi], fake: FakePaddle
) -> None:
    # Paddle keeps Tally's references of a charge on its price (items[].price.custom_data);
    # the transaction's own custom_data is what Paddle copied from the subscription, if
    # anything. The webhook used to read only the latter: the charge's
    # transaction.completed named no invoice, and a charge answered "processing" left
    # the invoice open for ever.
    api, paddle = shop
    fake.charge_status = "billed"
    ida = customer(api, "ida", email="ida@example.com")
    first_payment(api, ida)
    invoice = draft(api, ida, line("Consulting", 2500))
    act(api, invoice["id"], "finalize")
    paid = act(api, invoice["id"], "pay", {"method": "provider"})
    assert paid["invoice"]["status"] == "open"
    [charge] = fake.charges
    notify(
        api,
        {
            "event_id": "evt_01hv8x2acma2gz6her25cnys9b",
            "event_type": "transaction.completed",
            "occurred_at": "2026-11-21T11:00:00Z",
            "notification_id": "ntf_01hv8x2af4sd0yr8b9c4bj7afz",
            "data": {
                "id": charge["id"],
                "status": "completed",
                "origin": "subscription_charge",
                "customer_id": CUSTOMER,
                "subscription_id": SUB,
                "currency_code": "EUR",
                "custom_data": {"tally_customer": ida},  # the subscription's
                "items": charge["items"],
                "details": {"totals": {"total": "2500", "currency_code": "EUR"}},
                "payments": [{"payment_method_id": METHOD, "status": "captured"}],
            },
        },
    )
    settled = api.ok(api.get(f"/v1/invoices/{invoice['id']}"))
    assert settled["status"] == "paid"
    assert [p["reference"] for p in settled["payments"]] == [charge["id"]]
    assert len(api.ok(api.get("/v1/invoices", customer_id=ida))["data"]) == 1
    assert len(paddle.sent("POST", "/subscriptions/")) == 1
