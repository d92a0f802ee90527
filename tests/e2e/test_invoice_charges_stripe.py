"""Invoice charges on a project that uses Stripe: the real adapter and SDK against a fake
Stripe API on 127.0.0.1 (payloads from ../shared/stripe). The charge is a PaymentIntent
for the customer's Stripe customer and saved card, made by the outbox after the command
with the call's idempotency key, and a credit note's refund is a Stripe refund of that
PaymentIntent; the books move through ``clearing:stripe``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.clock import FixedClock
from api.settings import Settings
from tests.e2e.billing import customer
from tests.e2e.invoicing import act, draft, line
from tests.e2e.provider_shop import FakeStripe, Shop, resource, settle, stripe_shop
from tests.integration.provider_fake import Reply, Seen


class FakeStripeWithRefunds(FakeStripe):
    """FakeStripe that also refunds, and charges what it is asked to."""

    def __call__(self, seen: Seen) -> Reply:
        if seen.path not in ("/v1/refunds", "/v1/payment_intents"):
            return super().__call__(seen)
        key = seen.headers.get("idempotency-key", "")
        form = FakeStripe.form(seen)
        with self.lock:
            if key in self.by_key:
                return Reply(200, self.by_key[key])
            n = len(self.by_key) + 1
            if seen.path == "/v1/refunds":
                made = resource(
                    "refund",
                    id=f"re_fake{n}",
                    amount=int(form["amount"]),
                    currency="eur",
                    payment_intent=form.get("payment_intent"),
                )
            else:
                made = resource(
                    "payment_intent",
                    id=f"pi_fake{n}",
                    status="succeeded",
                    amount=int(form["amount"]),
                    currency="eur",
                )
            self.by_key[key] = made
            return Reply(200, made)


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[Shop]:
    with stripe_shop(settings, clock, FakeStripeWithRefunds()) as made:
        yield made


def books(shop: Shop) -> dict[str, int]:
    rows = shop.api.ok(shop.api.get("/v1/system_accounts", limit=100))["data"]
    return {str(r["account"]): int(r["balance"]) for r in rows}


def test_an_invoice_is_charged_to_the_stripe_customer_and_refunded_by_a_credit_note(
    shop: Shop,
) -> None:
    api = shop.api
    ida = customer(api, "ida", email="ida@example.com")
    api.ok(api.post("/v1/payment_methods", {"customer_id": ida, "payment_method": "pm_visa"}))
    settle(api)  # the Stripe customer is made once, for the saved card
    invoice = draft(api, ida, line("Consulting", 2500))
    act(api, invoice["id"], "finalize")
    paid = act(api, invoice["id"], "pay", {"method": "provider"})
    attempt: dict[str, Any] = paid["payment_attempt"]
    assert (attempt["status"], attempt["provider"]) == ("succeeded", "stripe")
    assert paid["invoice"]["status"] == "paid"
    [intent] = shop.stripe.sent("POST", "/v1/payment_intents")
    sent = FakeStripe.form(intent)
    assert (sent["customer"], sent["payment_method"]) == ("cus_fake1", "pm_visa")
    assert (sent["amount"], sent["currency"].lower()) == ("2500", "eur")
    assert sent["metadata[tally_invoice]"] == invoice["id"]
    call = api.ok(api.get(f"/v1/provider_calls/{attempt['provider_call_id']}"))
    assert intent.headers["idempotency-key"] == call["idempotency_key"]
    assert attempt["reference"] == call["payment_ref"] == "pi_fake2"
    settle(api)
    assert books(shop)["clearing:stripe"] == -2500

    note = {"amount": 1000, "refund_to": "original_payment", "reason": "late delivery"}
    credited = api.ok(api.post(f"/v1/invoices/{invoice['id']}/credit_notes", note), 201)
    assert credited["credit_note"]["refunded_to"] == "clearing:stripe"
    settle(api)
    [refund] = shop.stripe.sent("POST", "/v1/refunds")
    assert FakeStripe.form(refund)["payment_intent"] == "pi_fake2"
    assert FakeStripe.form(refund)["amount"] == "1000"
    made = api.ok(api.get(f"/v1/provider_calls/{credited['refund_call']['id']}"))
    assert (made["operation"], made["state"]) == ("refund", "succeeded")
    assert books(shop)["clearing:stripe"] == -1500
    trial = api.ok(api.get("/v1/reports/trial_balance"))
    assert {c: int(v["total"]) for c, v in trial["currencies"].items()} == {"EUR": 0}
