"""A Stripe invoice's payment is its PaymentIntent, not the invoice (issue 18, items 1
and 6), for a project on Stripe (the real adapter and SDK against a fake Stripe API).

At current API versions an invoice has no ``payment_intent`` field: its payments are
``InvoicePayment`` objects (``GET /v1/invoice_payments?invoice=in_...``, each
``{"payment": {"type": "payment_intent", "payment_intent": "pi_..."}, "status":
"paid"}``). A signed ``invoice.paid`` that pays a Tally invoice records that
PaymentIntent as the payment's reference, so a later credit note's refund is
``POST /v1/refunds payment_intent=pi_...``; before, Tally recorded the ``in_...`` id and
Stripe refused the refund. ``invoice.payment_succeeded`` means the same and is counted
once with it, whichever comes first."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.clock import FixedClock
from api.settings import Settings
from tests.e2e.billing import customer
from tests.e2e.invoicing import act, draft, line
from tests.e2e.provider_shop import Shop, post_stripe, resource, stripe_shop
from tests.e2e.test_invoice_charges_stripe import FakeStripeWithRefunds
from tests.e2e.test_webhooks_stripe import settle
from tests.integration.provider_fake import Reply, Seen

STRIPE_INVOICE = "in_1Pgc6tB7WZ01zgkWu9fdqL6I"
PAID_INTENT = "pi_3PaidByInvoice0000000001"


class FakeStripeInvoices(FakeStripeWithRefunds):
    """FakeStripeWithRefunds that also lists an invoice's payments."""

    def __init__(self) -> None:
        super().__init__()
        self.invoice_payments: list[dict[str, Any]] = []

    def __call__(self, seen: Seen) -> Reply:
        if seen.method == "GET" and seen.path == "/v1/invoice_payments":
            wanted = seen.query.get("invoice", [""])[0]
            status = seen.query.get("status", [None])[0]
            data = [
                p
                for p in self.invoice_payments
                if p["invoice"] == wanted and status in (None, p["status"])
            ]
            listed = {"object": "list", "data": data, "has_more": False}
            return Reply(200, {**listed, "url": "/v1/invoice_payments"})
        return super().__call__(seen)


def invoice_payment(intent: str, amount: int, status: str = "paid") -> dict[str, Any]:
    return resource(
        "invoice_payment",
        id=f"inpay_{intent[-6:]}",
        invoice=STRIPE_INVOICE,
        amount_paid=amount if status == "paid" else None,
        amount_requested=amount,
        currency="eur",
        status=status,
        payment={"type": "payment_intent", "payment_intent": intent},
    )


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[Shop]:
    with stripe_shop(settings, clock, FakeStripeInvoices()) as made:
        yield made


def stripe_invoice(tally_invoice: str, amount: int) -> dict[str, Any]:
    """Stripe's invoice as its webhooks carry it at the pinned API version (no
    ``payment_intent``: the fixture has none), naming Tally's invoice."""
    obj = resource(
        "invoice",
        id=STRIPE_INVOICE,
        amount_due=amount,
        amount_paid=amount,
        amount_remaining=0,
        currency="eur",
        status="paid",
        metadata={"tally_invoice": tally_invoice},
    )
    obj["parent"] = None
    assert "payment_intent" not in obj
    return obj


def deliver(shop: Shop, event_id: str, kind: str, obj: dict[str, Any]) -> Any:
    event = resource("event", id=event_id, type=kind, data={"object": obj})
    return post_stripe(shop.api, event)


def open_invoice(shop: Shop, amount: int) -> dict[str, Any]:
    api = shop.api
    ida = customer(api, "ida", email="ida@example.com")
    invoice = draft(api, ida, line("Consulting", amount))
    act(api, invoice["id"], "finalize")
    return invoice


def test_invoice_paid_records_the_payment_intent_and_a_credit_note_refunds_it(
    shop: Shop,
) -> None:
    api = shop.api
    invoice = open_invoice(shop, 2500)
    fake: FakeStripeInvoices = shop.fake  # type: ignore[assignment]
    fake.invoice_payments = [
        invoice_payment("pi_3CanceledAttempt000000001", 2500, status="canceled"),
        invoice_payment(PAID_INTENT, 2500),
    ]
    answer = api.ok(
        deliver(shop, "evt_paid_1", "invoice.paid", stripe_invoice(invoice["id"], 2500))
    )
    assert answer["recorded"] == 1
    [listed] = shop.stripe.sent("GET", "/v1/invoice_payments")
    assert listed.query["invoice"] == [STRIPE_INVOICE]
    settle(api)
    paid = api.ok(api.get(f"/v1/invoices/{invoice['id']}"))
    assert paid["status"] == "paid"
    [payment] = paid["payments"]
    assert (payment["reference"], payment["method"]) == (PAID_INTENT, "provider")

    note = {"amount": 1000, "refund_to": "original_payment", "reason": "late delivery"}
    api.ok(api.post(f"/v1/invoices/{invoice['id']}/credit_notes", note), 201)
    settle(api)
    [refund] = shop.stripe.sent("POST", "/v1/refunds")
    sent = {k: v[0] for k, v in refund.form().items()}
    assert (sent["payment_intent"], sent["amount"]) == (PAID_INTENT, "1000")
    assert "charge" not in sent


def test_invoice_payment_succeeded_and_invoice_paid_record_one_payment_in_either_order(
    shop: Shop,
) -> None:
    api = shop.api
    fake: FakeStripeInvoices = shop.fake  # type: ignore[assignment]
    fake.invoice_payments = [invoice_payment(PAID_INTENT, 2500)]
    first = open_invoice(shop, 2500)
    obj = stripe_invoice(first["id"], 2500)
    api.ok(deliver(shop, "evt_succeeded_1", "invoice.payment_succeeded", obj))
    api.ok(deliver(shop, "evt_paid_1", "invoice.paid", obj))
    settle(api)
    paid = api.ok(api.get(f"/v1/invoices/{first['id']}"))
    assert paid["status"] == "paid"
    assert [p["reference"] for p in paid["payments"]] == [PAID_INTENT]
    events = api.ok(api.get("/v1/webhook_events", limit=10))["data"]
    by_type = {e["provider_type"]: e for e in events}
    assert by_type["invoice.payment_succeeded"]["status"] == "applied"
    assert by_type["invoice.paid"]["status"] == "ignored"
    assert len(api.ok(api.get("/v1/payments", invoice_id=first["id"]))["data"]) == 1


def test_an_invoice_paid_whose_payment_cannot_be_looked_up_is_redelivered(
    shop: Shop,
) -> None:
    api = shop.api
    invoice = open_invoice(shop, 2500)
    fake: FakeStripeInvoices = shop.fake  # type: ignore[assignment]
    shop.stripe.route = lambda seen: Reply(503, {"error": {"type": "api_error"}})
    refused = deliver(shop, "evt_paid_1", "invoice.paid", stripe_invoice(invoice["id"], 2500))
    assert refused.status_code == 503, refused.text
    assert api.ok(api.get("/v1/webhook_events", limit=10))["data"] == []
    # What OpenAPI says of this 503 names Stripe's look-ups, not YooKassa's alone.
    route = api.get("/openapi.json").json()["paths"]["/v1/webhooks/{provider}/{project_id}"]
    assert "Stripe: the payment of a paid invoice" in route["post"]["description"]
    shop.stripe.route = fake
    fake.invoice_payments = [invoice_payment(PAID_INTENT, 2500)]
    api.ok(deliver(shop, "evt_paid_1", "invoice.paid", stripe_invoice(invoice["id"], 2500)))
    settle(api)
    paid = api.ok(api.get(f"/v1/invoices/{invoice['id']}"))
    assert [p["reference"] for p in paid["payments"]] == [PAID_INTENT]
