"""The Stripe adapter checked against Stripe's published API (issue 18): every request it
sends is validated against its operation's request schema, compared with Stripe's
published OpenAPI spec (``tests/fixtures/stripe_api/requests.json``, checked by
``tests/integration/stripe_contract.py``), and every answer it reads is Stripe's own
example object from ``../shared/stripe/fixtures3.json``. A request Stripe would refuse
(an unknown parameter, a value of the wrong type or kind, a text past Stripe's limit) is
a failing test; the inputs are Tally's longest (its own limits, ``domain/limits/``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import stripe

from adapters.providers.base import (
    ChargeRequest,
    CheckoutMode,
    CheckoutRequest,
    CustomerRequest,
    LineItem,
    PaymentMethodRequest,
    RefundRequest,
)
from adapters.providers.stripe import StripeProvider
from adapters.providers.subscriptions import SubscriptionItem, SubscriptionRequest
from domain.limits import MAX_DESCRIPTION_CHARS, MAX_EMAIL_CHARS, MAX_NAME_CHARS
from tests.e2e.provider_shop import resource
from tests.integration.provider_fake import FakeApi, Reply, Seen, fake_api
from tests.integration.stripe_contract import (
    OPERATIONS,
    SCHEMAS,
    operation_of,
    params_of,
    problems,
)

SECRET = "whsec_contract"
REFS = {
    "tally_project": "7b0c3d9e-1f2a-4b5c-8d6e-0f1a2b3c4d5e",
    "tally_transaction": "0b6f3c1e-5a7d-4c1b-9a51-2f1f3f0e9a10",
    "tally_customer": "3a1f0c2e-5b7d-4c1b-9a51-2f1f3f0e9a11",
}
LONG_URL = "https://shop.example/" + "a" * 1900  # Tally's URLs: up to 2000 characters
NAME = "N" * MAX_NAME_CHARS


def answer(seen: Seen) -> Reply:
    """Stripe's example objects (fixtures3.json), by the operation asked for."""
    name = operation_of(seen.method, seen.path) or ""
    objects = {
        "POST /v1/customers": resource("customer"),
        "POST /v1/customers/{customer}": resource("customer"),
        "GET /v1/customers/{customer}": resource("customer", metadata=dict(REFS)),
        "POST /v1/checkout/sessions": resource(
            "checkout.session", url="https://checkout.stripe.com/c/pay/cs_1"
        ),
        "POST /v1/billing_portal/sessions": resource("billing_portal.session"),
        "POST /v1/payment_intents": resource("payment_intent", status="succeeded"),
        "POST /v1/refunds": resource("refund"),
        "POST /v1/subscriptions": resource("subscription"),
        "POST /v1/subscriptions/{subscription_exposed_id}": resource("subscription"),
        "DELETE /v1/subscriptions/{subscription_exposed_id}": resource("subscription"),
        "GET /v1/subscriptions/{subscription_exposed_id}": resource("subscription"),
        "POST /v1/payment_methods/{payment_method}/attach": resource("payment_method"),
        "POST /v1/payment_methods/{payment_method}/detach": resource("payment_method"),
    }
    if name == "GET /v1/invoices/{invoice}":
        # One line embedded and more to read: the adapter must list the rest.
        invoice = resource("invoice")
        invoice["lines"] = {**invoice["lines"], "has_more": True}
        return Reply(200, invoice)
    if name == "GET /v1/invoices/{invoice}/lines":
        line = {**resource("invoice")["lines"]["data"][0], "id": "il_1Pgc6sB7WZ01zgkWSecond"}
        return Reply(200, {"object": "list", "data": [line], "has_more": False, "url": seen.path})
    if name == "GET /v1/refunds":
        # The charge's refunds, newest first, as Tally asked for them (its references).
        refund = resource("refund", metadata=dict(REFS))
        return Reply(200, {"object": "list", "data": [refund], "has_more": False, "url": seen.path})
    if name == "GET /v1/invoice_payments":
        paid = resource("invoice_payment", status="paid")
        paid["payment"] = {"type": "payment_intent", "payment_intent": "pi_3PaidContract01"}
        return Reply(200, {"object": "list", "data": [paid], "has_more": False, "url": seen.path})
    if name in objects:
        return Reply(200, objects[name])
    return Reply(404, {"error": {"type": "invalid_request_error", "message": "no such operation"}})


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with fake_api(answer) as running:
        yield running


@pytest.fixture
def provider(api: FakeApi) -> StripeProvider:
    return StripeProvider(
        api_key="sk_test_contract", webhook_secret=SECRET, api_base=api.url, max_network_retries=0
    )


def exercise(provider: StripeProvider) -> None:
    """Every call the adapter makes, with Tally's longest inputs."""
    provider.create_customer(
        CustomerRequest("tally:c:1", "e" * (MAX_EMAIL_CHARS - 12) + "@example.com", NAME, REFS)
    )
    lines = (
        LineItem(NAME, 2500, "EUR", 3),
        LineItem("Mug", 900, "EUR", 1, price_ref="price_1PgafmB7WZ01zgkW6dKueIc5"),
    )
    for mode, customer in [
        (CheckoutMode.ITEM, "cus_QXg1o8vcGmoR32"),
        (CheckoutMode.CART, None),
        (CheckoutMode.SETUP, "cus_QXg1o8vcGmoR32"),
    ]:
        request = CheckoutRequest(
            mode,
            lines,
            LONG_URL,
            LONG_URL,
            "tally:k:1",
            customer,
            {**REFS, "tally_checkout": "c-1"},
            14,
        )
        provider.create_checkout_session(request)
    subscription_lines = (
        LineItem("Pro", 2900, "EUR", 1, price_ref="price_1PgafmB7WZ01zgkW6dKueIc5"),
    )
    provider.create_checkout_session(
        CheckoutRequest(
            CheckoutMode.SUBSCRIPTION,
            subscription_lines,
            LONG_URL,
            LONG_URL,
            "tally:k:2",
            None,
            REFS,
        )
    )
    provider.create_portal_session("cus_QXg1o8vcGmoR32", LONG_URL)
    provider.charge(
        ChargeRequest(
            "cus_QXg1o8vcGmoR32",
            "pm_1Pgc75B7WZ01zgkWlHVgdEGJ",
            2500,
            "EUR",
            "tally:k:3",
            "D" * MAX_DESCRIPTION_CHARS,
            REFS,
        )
    )
    provider.refund(
        RefundRequest("pi_3MtwBwLkdIwHu7ix28a3tqPa", 1000, "EUR", "tally:k:4", "late", REFS)
    )
    provider.refund(
        RefundRequest("ch_3MtwBwLkdIwHu7ix0snN0B15", 1000, "EUR", "tally:k:5", "", REFS)
    )
    for at_period_end in (True, False):
        provider.cancel_subscription(
            "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw", at_period_end=at_period_end, idempotency_key="tally:k:6"
        )
    for action in ("attach", "detach", "set_default"):
        provider.sync_payment_method(
            PaymentMethodRequest(
                action, "pm_1Pgc75B7WZ01zgkWlHVgdEGJ", "tally:k:7", "cus_QXg1o8vcGmoR32"
            )
        )
    items = (SubscriptionItem("price_1PgafmB7WZ01zgkW6dKueIc5", 2),)
    provider.create_subscription(
        SubscriptionRequest(
            "cus_QXg1o8vcGmoR32", items, "EUR", "tally:k:8", 14, "pm_1Pgc75B7WZ01zgkWlHVgdEGJ", REFS
        )
    )
    provider.change_subscription_items(
        "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw",
        (SubscriptionItem("price_2New", 1),),
        prorate=True,
        idempotency_key="tally:k:9",
    )
    provider.undo_cancel_subscription("sub_1Pgc6rB7WZ01zgkWNy0Cn5nw", idempotency_key="tally:k:10")
    provider.get_invoice("in_1Pgc6tB7WZ01zgkWu9fdqL6I")
    for kind, obj, extra in [
        (
            "invoice.paid",
            {**resource("invoice", metadata={"tally_invoice": "i-1"}), "parent": None},
            {},
        ),
        (
            # At current API versions a charge.refunded leaves the charge's refunds out,
            # so the adapter lists them (GET /v1/refunds?charge=).
            "charge.refunded",
            {
                k: v
                for k, v in resource("charge", amount_refunded=1000, refunded=True).items()
                if k != "refunds"
            },
            {},
        ),
        (
            "payment_method.detached",
            resource("payment_method", customer=None),
            {"previous_attributes": {"customer": "cus_QXg1o8vcGmoR32"}},
        ),
    ]:
        body = json.dumps(
            resource("event", id="evt_1Contract", type=kind, data={"object": obj, **extra})
        )
        header = stripe.WebhookSignature.generate_signature_header(body, SECRET, int(time.time()))
        provider.parse_webhook({"Stripe-Signature": header}, body.encode())


def test_every_request_the_stripe_adapter_sends_is_one_stripe_takes(
    api: FakeApi, provider: StripeProvider
) -> None:
    exercise(provider)
    found = [p for seen in api.requests for p in problems(seen)]
    assert found == []
    # Every operation of the fixtures was exercised, so none is there unchecked.
    asked = {operation_of(seen.method, seen.path) for seen in api.requests}
    assert asked == set(OPERATIONS)
    # The operations compared with Stripe's published spec are among them.
    assert set(SCHEMAS["compared_with_spec"]) <= set(OPERATIONS)


def test_answers_are_read_from_stripes_own_objects(provider: StripeProvider) -> None:
    made = provider.create_customer(CustomerRequest("tally:c:1", references=REFS))
    assert made.customer_ref == resource("customer")["id"]
    charged = provider.charge(ChargeRequest("cus_1", "pm_1", 2500, "EUR", "tally:k:3"))
    assert (charged.payment_ref, charged.status) == (resource("payment_intent")["id"], "succeeded")
    refunded = provider.refund(
        RefundRequest("pi_3MtwBwLkdIwHu7ix28a3tqPa", 100, "EUR", "tally:k:4")
    )
    assert (refunded.refund_ref, refunded.amount_minor) == (
        resource("refund")["id"],
        resource("refund")["amount"],
    )
    session = provider.create_checkout_session(
        CheckoutRequest(CheckoutMode.ITEM, (LineItem("Mug", 900, "EUR"),), LONG_URL, LONG_URL, "k")
    )
    assert session.session_ref == resource("checkout.session")["id"]


def test_an_invoice_with_more_lines_is_read_through_the_lines_list(
    api: FakeApi, provider: StripeProvider
) -> None:
    invoice = provider.get_invoice("in_1Pgc6tB7WZ01zgkWu9fdqL6I")
    [listed] = [s for s in api.requests if "/lines" in s.path]
    assert problems(listed) == []
    assert params_of(listed)["starting_after"] == resource("invoice")["lines"]["data"][0]["id"]
    assert len(invoice.lines) == 2
