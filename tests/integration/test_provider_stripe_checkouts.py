"""The Stripe adapter's customers, checkouts, refunds, cancellations and portal sessions
against a fake Stripe API on 127.0.0.1, through the real SDK and its real HTTP client:
the parameters and idempotency keys it sends."""

from __future__ import annotations

import pytest

from adapters.providers.base import (
    CheckoutMode,
    CheckoutRequest,
    CustomerRequest,
    LineItem,
    RefundRequest,
)
from adapters.providers.stripe import StripeProvider
from commands.provider_errors import (
    ProviderRejected,
)
from tests.integration.provider_fake import FakeApi, Reply
from tests.integration.stripe_script import (
    RESOURCES,
    Script,
    api,
    resource,
    script,
    stripe_provider,
)

__all__ = ["api", "script", "stripe_provider"]  # the fixtures, used by name


def test_create_customer_sends_email_references_and_key(
    api: FakeApi, script: Script, stripe_provider: StripeProvider
) -> None:
    script.replies["/v1/customers"] = Reply(200, resource("customer"))
    customer = stripe_provider.create_customer(
        CustomerRequest(
            "tally:cust-1",
            email="ada@example.com",
            name="Ada",
            references={"tally_customer": "cust-1"},
        )
    )
    assert customer.customer_ref == "cus_QXg1o8vcGmoR32"
    [sent] = api.sent("POST", "/v1/customers")
    assert sent.headers["idempotency-key"] == "tally:cust-1"
    assert sent.form() == {
        "email": ["ada@example.com"],
        "name": ["Ada"],
        "metadata[tally_customer]": ["cust-1"],
    }


def test_a_subscription_checkout_uses_the_price_and_copies_references_to_the_subscription(
    api: FakeApi, script: Script, stripe_provider: StripeProvider
) -> None:
    script.replies["/v1/checkout/sessions"] = Reply(
        200, resource("checkout.session", mode="subscription")
    )
    session = stripe_provider.create_checkout_session(
        CheckoutRequest(
            mode=CheckoutMode.SUBSCRIPTION,
            lines=(LineItem("Pro", 2000, "USD", price_ref="price_1PgafmB7WZ01zgkW6dKueIc5"),),
            success_url="https://app.example/ok",
            cancel_url="https://app.example/cancel",
            idempotency_key="tally:checkout-1",
            customer_ref="cus_QXg1o8vcGmoR32",
            references={"tally_subscription": "s-1", "tally_checkout": "checkout-1"},
        )
    )
    assert session.session_ref.startswith("cs_test_")
    assert session.url.startswith("https://checkout.stripe.com/")
    [sent] = api.sent("POST", "/v1/checkout/sessions")
    form = sent.form()
    assert sent.headers["idempotency-key"] == "tally:checkout-1"
    assert form["mode"] == ["subscription"]
    assert form["line_items[0][price]"] == ["price_1PgafmB7WZ01zgkW6dKueIc5"]
    assert form["subscription_data[metadata][tally_subscription]"] == ["s-1"]
    assert form["client_reference_id"] == ["checkout-1"]


def test_a_cart_checkout_sends_ad_hoc_prices_in_minor_units(
    api: FakeApi, script: Script, stripe_provider: StripeProvider
) -> None:
    script.replies["/v1/checkout/sessions"] = Reply(200, resource("checkout.session"))
    stripe_provider.create_checkout_session(
        CheckoutRequest(
            mode=CheckoutMode.CART,
            lines=(LineItem("Seat", 1250, "EUR", quantity=2), LineItem("Setup", 500, "EUR")),
            success_url="https://app.example/ok",
            cancel_url="https://app.example/cancel",
            idempotency_key="tally:cart-1:1",
        )
    )
    form = api.sent("POST", "/v1/checkout/sessions")[0].form()
    assert form["mode"] == ["payment"]
    assert form["line_items[0][price_data][unit_amount]"] == ["1250"]
    assert form["line_items[0][quantity]"] == ["2"]
    assert form["line_items[1][price_data][product_data][name]"] == ["Setup"]
    # No customer to save the card on: the guest pays once.
    assert "payment_intent_data[setup_future_usage]" not in form


def test_a_one_time_checkout_for_a_customer_saves_the_card_for_off_session_charges(
    api: FakeApi, script: Script, stripe_provider: StripeProvider
) -> None:
    script.replies["/v1/checkout/sessions"] = Reply(200, resource("checkout.session"))
    stripe_provider.create_checkout_session(
        CheckoutRequest(
            mode=CheckoutMode.ITEM,
            lines=(LineItem("Wallet top-up", 5000, "EUR"),),
            success_url="https://app.example/ok",
            cancel_url="https://app.example/cancel",
            idempotency_key="tally:topup-1:1",
            customer_ref="cus_QXg1o8vcGmoR32",
            references={"tally_transaction": "t-1"},
        )
    )
    form = api.sent("POST", "/v1/checkout/sessions")[0].form()
    assert form["customer"] == ["cus_QXg1o8vcGmoR32"]
    assert form["payment_intent_data[setup_future_usage]"] == ["off_session"]
    assert form["payment_intent_data[metadata][tally_transaction]"] == ["t-1"]


def test_a_trial_checkout_is_a_setup_session_that_saves_the_card_and_charges_nothing(
    api: FakeApi, script: Script, stripe_provider: StripeProvider
) -> None:
    script.replies["/v1/checkout/sessions"] = Reply(200, resource("checkout.session"))
    references = {"tally_subscription": "s-1", "tally_checkout_mode": "setup"}
    stripe_provider.create_checkout_session(
        CheckoutRequest(
            mode=CheckoutMode.SETUP,
            lines=(LineItem("Pro: 14-day free trial", 0, "EUR"),),
            success_url="https://app.example/ok",
            cancel_url="https://app.example/cancel",
            idempotency_key="tally:checkout-2",
            customer_ref="cus_QXg1o8vcGmoR32",
            references=references,
            trial_days=14,
        )
    )
    [sent] = api.sent("POST", "/v1/checkout/sessions")
    assert sent.headers["idempotency-key"] == "tally:checkout-2"
    form = sent.form()
    assert (form["mode"], form["currency"], form["customer"]) == (
        ["setup"],
        ["eur"],
        ["cus_QXg1o8vcGmoR32"],
    )
    assert not any(name.startswith("line_items") for name in form)
    # The SetupIntent carries the references, so setup_intent.succeeded names them.
    assert form["setup_intent_data[metadata][tally_subscription]"] == ["s-1"]
    assert form["metadata[tally_checkout_mode]"] == ["setup"]


def test_a_subscription_checkout_without_a_stripe_price_is_refused_before_any_call(
    api: FakeApi, stripe_provider: StripeProvider
) -> None:
    with pytest.raises(ProviderRejected, match="price id"):
        stripe_provider.create_checkout_session(
            CheckoutRequest(
                CheckoutMode.SUBSCRIPTION,
                (LineItem("Pro", 2000, "USD"),),
                "https://a/ok",
                "https://a/no",
                "tally:x",
            )
        )
    assert api.requests == []


def test_a_refund_names_the_payment_and_sends_the_key(
    api: FakeApi, script: Script, stripe_provider: StripeProvider
) -> None:
    script.replies["/v1/refunds"] = Reply(200, resource("refund", amount=300))
    refund = stripe_provider.refund(
        RefundRequest("pi_1PgafyB7WZ01zgkWSjxsAJo3", 300, "USD", "tally:refund-1:1")
    )
    assert (refund.refund_ref, refund.status, refund.amount_minor) == (
        "re_1Pgc72B7WZ01zgkWqPvrRrPE",
        "succeeded",
        300,
    )
    [sent] = api.sent("POST", "/v1/refunds")
    assert sent.headers["idempotency-key"] == "tally:refund-1:1"
    assert sent.form()["payment_intent"] == ["pi_1PgafyB7WZ01zgkWSjxsAJo3"]
    assert sent.form()["amount"] == ["300"]


def test_cancelling_at_period_end_updates_and_cancelling_now_deletes(
    api: FakeApi, script: Script, stripe_provider: StripeProvider
) -> None:
    script.replies["/v1/subscriptions"] = Reply(200, resource("subscription"))
    stripe_provider.cancel_subscription(
        "sub_1", at_period_end=True, idempotency_key="tally:s-1:cancel"
    )
    stripe_provider.cancel_subscription(
        "sub_1", at_period_end=False, idempotency_key="tally:s-1:end"
    )
    (update,) = api.sent("POST", "/v1/subscriptions/sub_1")
    assert update.form() == {"cancel_at_period_end": ["true"]}
    assert update.headers["idempotency-key"] == "tally:s-1:cancel"
    (delete,) = api.sent("DELETE", "/v1/subscriptions/sub_1")
    assert delete.headers["idempotency-key"] == "tally:s-1:end"


def test_a_portal_session_returns_the_portal_url(
    api: FakeApi, script: Script, stripe_provider: StripeProvider
) -> None:
    script.replies["/v1/billing_portal/sessions"] = Reply(200, resource("billing_portal.session"))
    portal = stripe_provider.create_portal_session(
        "cus_QXg1o8vcGmoR32", "https://app.example/account"
    )
    assert portal.url == RESOURCES["billing_portal.session"]["url"]
    assert api.sent("POST")[0].form() == {
        "customer": ["cus_QXg1o8vcGmoR32"],
        "return_url": ["https://app.example/account"],
    }
