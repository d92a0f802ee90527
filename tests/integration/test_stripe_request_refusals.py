"""Requests Stripe would refuse, found by the published-API check (issue 18): the check
of ``tests/integration/stripe_contract.py`` against ``tests/fixtures/stripe_api/requests.json``
(compared with Stripe's published OpenAPI) can fail, and accepts what the spec accepts.
Each refused request here is one Stripe answers 400; ``test_stripe_published_api.py``
shows that every request the adapter sends is accepted."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.stripe_contract import OPERATIONS, check

LONG_URL = "https://shop.example/" + "a" * 1900  # Tally's URLs: up to 2000 characters


@pytest.mark.parametrize(
    ("params", "refusal"),
    [
        ({"payment_intent": "pi_1", "refund_application_fee": "yes"}, "not a boolean"),
        ({"payment_intent": "pi_1", "amount": "1.5"}, "not an integer"),
        ({"payment_intent": "pi_1", "metadata": {"tally_note": "x" * 501}}, "longer than 500"),
        ({"payment_intent": "pi_1", "reason": "late delivery"}, "not one of"),
        ({"payment_intent": "pi_1", "description": "refund"}, "unknown parameter"),
    ],
)
def test_a_refund_stripe_would_refuse_is_found(params: dict[str, Any], refusal: str) -> None:
    """The check can fail: each of these is a refund request Stripe answers 400."""
    found = check(params, OPERATIONS["POST /v1/refunds"], "")
    assert any(refusal in p for p in found), found


SUBSCRIPTION = "POST /v1/subscriptions/{subscription_exposed_id}"


@pytest.mark.parametrize(
    ("operation", "params", "refusal"),
    [
        (
            "POST /v1/subscriptions",
            {"customer": "cus_1", "items": [{"price": "price_1"}], "trial_end": "tomorrow"},
            "not one of",
        ),
        ("POST /v1/subscriptions", {"customer": "cus_1", "billing_cycle_anchor": "now"}, "integer"),
        (SUBSCRIPTION, {"items": [{"id": "si_1", "price_data": {"currency": "eur"}}]}, "required"),
        (
            "POST /v1/subscriptions",
            {"customer": "cus_1", "items": [{"price": "price_1", "quantity": "1.5"}]},
            "not an integer",
        ),
        (
            "POST /v1/subscriptions",
            {"customer": "cus_1", "trial_days": "14"},
            "unknown parameter",
        ),
        (SUBSCRIPTION, {"proration_behavior": "prorate"}, "not one of"),
        (SUBSCRIPTION, {"items": [{"id": "si_1", "removed": "true"}]}, "unknown parameter"),
        (SUBSCRIPTION, {"cancel_at_period_end": "maybe"}, "boolean"),
        (
            "DELETE /v1/subscriptions/{subscription_exposed_id}",
            {"at_period_end": "true"},
            "unknown",
        ),
        ("GET /v1/invoices/{invoice}/lines", {"limit": "101"}, "outside 1..100"),
    ],
)
def test_a_subscription_request_stripe_would_refuse_is_found(
    operation: str, params: dict[str, Any], refusal: str
) -> None:
    """The check can fail for the provider-run subscription calls too: each of these is
    a request Stripe answers 400."""
    found = check(params, OPERATIONS[operation], "")
    assert any(refusal in p for p in found), found


CHECKOUT = "POST /v1/checkout/sessions"


@pytest.mark.parametrize(
    ("operation", "params", "refusal"),
    [
        (CHECKOUT, {"mode": "payment", "ui_mode": "hosted"}, "not one of"),
        (
            CHECKOUT,
            {"line_items": [{"price": "price_1", "dynamic_tax_rates": ["txr_1"]}]},
            "unknown",
        ),
        (CHECKOUT, {"mode": "payment", "locale": "en-US"}, "not one of"),
        ("POST /v1/customers", {"individual_name": "N" * 151}, "longer than 150"),
        ("POST /v1/customers/{customer}", {"default_source": "s" * 501}, "longer than 500"),
        (
            "POST /v1/billing_portal/sessions",
            {"customer": "cus_1", "locale": "english"},
            "not one of",
        ),
        ("GET /v1/invoice_payments", {"payment": {"payment_intent": "pi_1"}}, "required"),
        (
            "POST /v1/payment_intents",
            {"amount": "100", "currency": "eur", "confirmation_method": "later"},
            "not one of",
        ),
        (
            "POST /v1/payment_intents",
            {"amount": "100", "currency": "eur", "mandate_data": "x"},
            "not",
        ),
    ],
)
def test_a_request_stripe_would_refuse_is_found(
    operation: str, params: dict[str, Any], refusal: str
) -> None:
    """The operations compared with Stripe's published spec refuse what Stripe refuses
    there: each of these is a request Stripe answers 400 (the fixture's own guesses from
    the SDK took the first and second, and knew no limit for the fourth and fifth)."""
    found = check(params, OPERATIONS[operation], "")
    assert any(refusal in p for p in found), found


def test_a_subscription_names_its_customer_by_customer_account_too() -> None:
    """Stripe's spec requires no parameter of a subscription create: customer_account
    may name the customer instead of customer (the fixture required customer before)."""
    params = {"customer_account": "acct_1", "items": [{"price": "price_1", "quantity": "1"}]}
    assert check(params, OPERATIONS["POST /v1/subscriptions"], "") == []


def test_a_portal_session_needs_no_customer_in_the_spec() -> None:
    """Stripe's spec requires no parameter of a portal session (customer_account may
    name the customer instead); the fixture required customer before."""
    assert (
        check(
            {"customer_account": "acct_1", "return_url": LONG_URL},
            OPERATIONS["POST /v1/billing_portal/sessions"],
            "",
        )
        == []
    )
