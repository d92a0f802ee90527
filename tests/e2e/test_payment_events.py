"""``billing.payment.succeeded|failed|refunded`` (issue 12), end to end: a charge that
succeeds and is refunded in part, and one that is declined, reach a real webhook
receiver (signatures verified with ``standardwebhooks``) once each, in log order, with
the payment as ``GET /v1/payments/{id}`` answered it; a payment that pays the invoice
in full is derived after ``billing.invoice.paid`` at the same log position."""

from __future__ import annotations

from typing import Any

from adapters.providers.stub import DECLINED, SUCCEEDS
from api.integration_events import envelope, event_model
from projections.integration_catalog import PAYMENT_TYPES, event_id
from projections.integration_events import events_after
from tests.e2e.billing import card, customer
from tests.e2e.conftest import Client
from tests.e2e.invoicing import act
from tests.e2e.test_checkout_payments import hooks_tally, sandbox
from tests.e2e.test_payments import charge, open_invoice, payment, settle
from tests.e2e.webhook_receiver import Receiver

# The test makes the provider calls and the deliveries itself (drain), in order.
__all__ = ["hooks_tally", "sandbox"]  # the fixtures, used by name


def test_each_payment_event_arrives_once_with_the_payment(
    sandbox: Client, receiver: Receiver
) -> None:
    body = {"url": receiver.url, "enabled_events": sorted(PAYMENT_TYPES)}
    receiver.secret = sandbox.ok(sandbox.post("/v1/webhook_endpoints", body), 201)["secret"]
    ada = customer(sandbox, "ada")
    card(sandbox, ada, SUCCEEDS)
    paid = charge(sandbox, open_invoice(sandbox, ada, 1000))
    settle(sandbox)
    succeeded = payment(sandbox, paid)  # read once the batch holding it was applied
    refunded_invoice = succeeded["invoice_id"]
    note = {"amount": 300, "refund_to": "original_payment"}
    act(sandbox, refunded_invoice, "credit_notes", note, 201)
    settle(sandbox)
    refunded = payment(sandbox, paid)
    bob = customer(sandbox, "bob")
    card(sandbox, bob, DECLINED)
    declined = charge(sandbox, open_invoice(sandbox, bob, 500))
    settle(sandbox)
    failed = payment(sandbox, declined)
    sandbox.tally.webhooks.drain()
    sandbox.tally.webhooks.drain()  # nothing is sent twice
    received = receiver.received
    assert [e["type"] for e in received] == [
        "billing.payment.succeeded",
        "billing.payment.refunded",
        "billing.payment.failed",
    ]
    assert [e["data"]["object"] for e in received] == [succeeded, refunded, failed]
    assert (succeeded["status"], refunded["status"], failed["status"]) == (
        "succeeded",
        "partially_refunded",
        "failed",
    )
    assert len(set(receiver.ids())) == 3
    for e in received:
        assert e["id"] == event_id(e["position"], e["type"], e["ordinal"])
        assert e["ordinal"] == 1
        event_model(e["type"]).model_validate(e)  # what its JSON Schema describes


def test_a_payment_that_pays_the_invoice_follows_invoice_paid_at_its_position(
    sandbox: Client,
) -> None:
    buyer = customer(sandbox, "cy")
    invoice_id = open_invoice(sandbox, buyer, 700)
    act(sandbox, invoice_id, "pay", {"method": "out_of_band", "reference": "wire 1"})
    settle(sandbox)
    [made] = sandbox.ok(sandbox.get("/v1/payments", invoice_id=invoice_id))["data"]
    rows = events_after(sandbox.tally.views, sandbox.tally.schema, sandbox.project_id, 0, 100)
    events: list[dict[str, Any]] = [envelope(r, sandbox.tally) for r in rows]
    at = [(e["type"], e["ordinal"]) for e in events if e["type"] == "billing.invoice.paid"]
    assert at == [("billing.invoice.paid", 0)]
    paid = next(e for e in events if e["type"] == "billing.invoice.paid")
    following = events[events.index(paid) + 1]
    assert (following["type"], following["position"], following["ordinal"]) == (
        "billing.payment.succeeded",
        paid["position"],
        1,
    )
    assert following["data"]["object"] == made
    assert [e["type"] for e in events].count("billing.payment.succeeded") == 1
