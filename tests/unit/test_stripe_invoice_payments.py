"""A paid Stripe invoice's payment, from its ``InvoicePayment`` objects (issue 18, item
1): the newest paid one's PaymentIntent (or charge when it has none), never the invoice;
an invoice expanded with ``payments`` needs no look-up. Shapes from Stripe's own
``invoice_payment`` fixture (../shared/stripe/fixtures3.json)."""

from __future__ import annotations

import json
from typing import Any

from adapters.providers.stripe_events import normalize, paid_payment_ref
from adapters.providers.stripe_invoice_payments import needs_payment
from commands.provider_events import EventType
from tests.unit.test_provider_stripe_webhooks import resource


def payment(status: str, at: int | None, **kind: str) -> dict[str, Any]:
    made = resource("invoice_payment", status=status)
    made["status_transitions"] = {"paid_at": at, "canceled_at": None}
    made["payment"] = {"type": "payment_intent" if "payment_intent" in kind else "charge", **kind}
    return made


def test_the_newest_paid_payment_is_the_invoices_payment() -> None:
    rows = [
        payment("paid", 100, payment_intent="pi_older"),
        payment("canceled", None, payment_intent="pi_canceled"),
        payment("paid", 200, payment_intent="pi_newer"),
        payment("open", None, payment_intent="pi_open"),
    ]
    assert paid_payment_ref(rows) == "pi_newer"
    assert paid_payment_ref({"object": "list", "data": rows}) == "pi_newer"


def test_a_charge_without_an_intent_is_the_payment_and_nothing_paid_is_none() -> None:
    assert paid_payment_ref([payment("paid", 1, charge="ch_only")]) == "ch_only"
    expanded = {"id": "pi_expanded", "object": "payment_intent"}
    assert paid_payment_ref([payment("paid", 1, payment_intent=expanded)]) == "pi_expanded"  # type: ignore[arg-type]
    assert paid_payment_ref([payment("open", None, payment_intent="pi_x")]) is None
    assert paid_payment_ref(None) is None
    assert paid_payment_ref("in_1") is None


def _event(kind: str, invoice: dict[str, Any]) -> dict[str, Any]:
    event = resource("event", id="evt_1", type=kind, data={"object": invoice})
    return json.loads(json.dumps(event))


def test_an_invoice_event_names_its_payment_not_itself() -> None:
    invoice = resource("invoice", metadata={"tally_invoice": "i-1"}, status="paid")
    invoice["parent"] = None
    bare = normalize(_event("invoice.paid", invoice))
    assert (bare.type, bare.object_ref, bare.payment_ref) == (
        EventType.INVOICE_PAID,
        invoice["id"],
        None,
    )
    assert needs_payment(bare)  # so the adapter asks Stripe for it
    invoice["payments"] = {"object": "list", "data": [payment("paid", 5, payment_intent="pi_9")]}
    expanded = normalize(_event("invoice.payment_succeeded", invoice))
    assert (expanded.type, expanded.payment_ref) == (EventType.INVOICE_PAID, "pi_9")
    assert expanded.amount_minor == invoice["amount_paid"]
    assert not needs_payment(expanded)


def test_an_invoice_naming_nothing_tally_pays_is_not_looked_up() -> None:
    invoice = resource("invoice", metadata={"tally_subscription": "s-1"})
    invoice["parent"] = None
    assert not needs_payment(normalize(_event("invoice.paid", invoice)))
    finalized = resource("invoice", metadata={"tally_invoice": "i-1"})
    finalized["parent"] = None
    assert not needs_payment(normalize(_event("invoice.finalized", finalized)))
