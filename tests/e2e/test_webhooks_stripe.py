"""A project that uses Stripe (its own credentials, named by variable) receives Stripe's
webhooks over HTTP: events built from Stripe's object fixtures and signed with the SDK's
own generator confirm a top-up and reverse it by the running refunded total, however
often and in whatever order they arrive; the stub's signature does not pass there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from adapters.clock import FixedClock
from api.settings import Settings
from tests.e2e.billing import problem
from tests.e2e.conftest import Client, head, nothing_written, serve
from tests.e2e.provider_shop import post_stripe, resource

HOOK_SECRET = "whsec_e2e_secret"
BACK = {"success_url": "https://shop.example/paid", "cancel_url": "https://shop.example/back"}


@pytest.fixture
def shop(settings: Settings, clock: FixedClock) -> Iterator[Client]:
    with serve(settings.model_copy(update={"run_outbox": False}), clock) as client:
        client.tally.providers.environ = {
            "ACME_STRIPE_KEY": "sk_test_e2e",
            "ACME_STRIPE_HOOK": HOOK_SECRET,
        }
        chosen = {
            "provider": "stripe",
            "credential_env": {"api_key": "ACME_STRIPE_KEY", "webhook_secret": "ACME_STRIPE_HOOK"},
            # Nothing listens there: every API call is an outage, webhooks still work.
            "api_base": "http://127.0.0.1:9",
        }
        client.ok(client.post("/v1/payment_provider", chosen))
        yield client


def deliver(api: Client, event_id: str, kind: str, obj: dict[str, Any]) -> Any:
    event = resource("event", id=event_id, type=kind, data={"object": obj})
    return post_stripe(api, event, HOOK_SECRET)


def settle(api: Client) -> None:
    api.tally.outbox.drain(retry_parked=True)
    api.position = head(api.tally)


def test_stripe_events_confirm_and_refund_a_top_up_once_each(shop: Client) -> None:
    account = shop.open_account("ada")
    topped = shop.ok(
        shop.post(f"/v1/accounts/{account}/top_ups", {"amount": 2000, "currency": "EUR", **BACK}),
        201,
    )
    assert topped["provider_call"]["state"] == "pending"  # Stripe's API is unreachable
    assert topped["provider_call"]["error_code"] == "provider_unavailable"
    refs = {"tally_transaction": topped["transaction"]["id"]}
    intent = resource(
        "payment_intent",
        id="pi_e2e",
        amount=2000,
        amount_received=2000,
        currency="eur",
        status="succeeded",
        metadata=refs,
    )
    charge = resource(
        "charge",
        id="ch_e2e",
        payment_intent="pi_e2e",
        amount=2000,
        currency="eur",
        amount_refunded=500,
        refunded=False,
        metadata=refs,
    )
    # The refund is delivered before the payment, then everything twice.
    assert shop.ok(deliver(shop, "evt_refund_1", "charge.refunded", charge))["recorded"] == 1
    settle(shop)
    assert shop.ok(deliver(shop, "evt_paid", "payment_intent.succeeded", intent))["recorded"] == 1
    settle(shop)
    charge_later = {**charge, "amount_refunded": 800}
    shop.ok(deliver(shop, "evt_refund_2", "charge.refunded", charge_later))
    for event_id, kind, obj in (
        ("evt_paid", "payment_intent.succeeded", intent),
        ("evt_refund_1", "charge.refunded", charge),
    ):
        assert shop.ok(deliver(shop, event_id, kind, obj))["duplicates"] == 1
    settle(shop)
    txn = shop.ok(shop.get(f"/v1/transactions/{topped['transaction']['id']}"))
    assert (txn["state"], txn["reversed_amount"]) == ("reversed", 800)
    assert shop.account(account)["ledger_balance"] == 1200
    statuses = {e["event_id"]: e["status"] for e in shop.ok(shop.get("/v1/webhook_events"))["data"]}
    assert statuses == {"evt_refund_1": "applied", "evt_paid": "applied", "evt_refund_2": "applied"}


def test_a_stub_signed_or_stale_delivery_is_refused_at_a_stripe_project(
    shop: Client, clock: FixedClock
) -> None:
    event = json.dumps(
        resource(
            "event", id="evt_x", type="customer.created", data={"object": resource("customer")}
        )
    )
    path = f"/v1/webhooks/stripe/{shop.project_id}"
    stale = stripe.WebhookSignature.generate_signature_header(
        event, HOOK_SECRET, int(clock.now().timestamp()) - 301
    )
    with nothing_written(shop.tally):
        problem(
            shop.http.post(f"/v1/webhooks/stub/{shop.project_id}", content=event), 404, "not_found"
        )
        problem(
            shop.http.post(path, content=event, headers={"Stripe-Signature": stale}),
            400,
            "invalid_signature",
        )
        wrong = stripe.WebhookSignature.generate_signature_header(event, "whsec_other")
        problem(
            shop.http.post(path, content=event, headers={"Stripe-Signature": wrong}),
            400,
            "invalid_signature",
        )
