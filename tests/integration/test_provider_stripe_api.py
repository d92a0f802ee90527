"""The Stripe adapter against a fake Stripe API on 127.0.0.1, through the real SDK and its
real HTTP client: idempotency keys sent, parameters, declines, outages and timeouts."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.providers.base import (
    ChargeRequest,
    CheckoutMode,
    CheckoutRequest,
    CustomerRequest,
    LineItem,
    RefundRequest,
    idempotency_key,
)
from adapters.providers.stripe import StripeProvider
from commands.provider_errors import (
    CardDeclined,
    PaymentRequiresAction,
    ProviderMisconfigured,
    ProviderRejected,
    ProviderUnavailable,
)
from tests.integration.provider_fake import FakeApi, Reply, Seen, fake_api

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "stripe" / "fixtures3.json"
RESOURCES: dict[str, Any] = json.loads(FIXTURES.read_text())["resources"]
API_KEY = "sk_test_integration_key"
TRANSACTION = "0b6f3c1e-5a7d-4c1b-9a51-2f1f3f0e9a10"


def resource(name: str, **changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = copy.deepcopy(RESOURCES[name])
    obj.update(changes)
    return obj


def card_error(code: str, decline_code: str | None = None) -> Reply:
    error: dict[str, Any] = {
        "type": "card_error",
        "code": code,
        "message": "Your card was declined.",
    }
    if decline_code:
        error["decline_code"] = decline_code
    error["payment_intent"] = resource("payment_intent", status="requires_payment_method")
    return Reply(402, {"error": error})


class Script:
    """Answers by path, replaceable per test."""

    def __init__(self) -> None:
        self.replies: dict[str, Reply] = {}

    def __call__(self, seen: Seen) -> Reply:
        for prefix, reply in self.replies.items():
            if seen.path.startswith(prefix):
                return reply
        return Reply(404, {"error": {"type": "invalid_request_error", "message": "no route"}})


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def api(script: Script) -> Iterator[FakeApi]:
    with fake_api(script) as running:
        yield running


@pytest.fixture
def stripe_provider(api: FakeApi) -> StripeProvider:
    return StripeProvider(
        api_key=API_KEY,
        webhook_secret="whsec_x",
        api_base=api.url,
        timeout_s=1.0,
        max_network_retries=0,
    )


def charge_request(attempt: int = 1) -> ChargeRequest:
    return ChargeRequest(
        customer_ref="cus_QXg1o8vcGmoR32",
        payment_method_ref="pm_card_visa",
        amount_minor=1099,
        currency="EUR",
        idempotency_key=idempotency_key(TRANSACTION, attempt),
        description="Wallet top-up",
        references={"tally_transaction": TRANSACTION},
    )


def test_a_charge_sends_the_tally_idempotency_key_and_charges_off_session(
    api: FakeApi, script: Script, stripe_provider: StripeProvider
) -> None:
    script.replies["/v1/payment_intents"] = Reply(
        200, resource("payment_intent", status="succeeded", amount=1099, currency="eur")
    )
    outcome = stripe_provider.charge(charge_request())
    assert (outcome.status, outcome.amount_minor, outcome.currency) == ("succeeded", 1099, "EUR")
    assert outcome.payment_ref == "pi_1PgafyB7WZ01zgkWSjxsAJo3"
    [sent] = api.sent("POST", "/v1/payment_intents")
    assert sent.headers["idempotency-key"] == f"tally:{TRANSACTION}:1"
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    form = sent.form()
    assert form["amount"] == ["1099"]
    assert form["currency"] == ["eur"]
    assert form["off_session"] == ["true"]
    assert form["confirm"] == ["true"]
    assert form["metadata[tally_transaction]"] == [TRANSACTION]


def test_a_retry_sends_the_same_key_so_stripe_can_answer_it_from_its_record(
    api: FakeApi, script: Script, stripe_provider: StripeProvider
) -> None:
    script.replies["/v1/payment_intents"] = Reply(503, {"error": {"type": "api_error"}})
    with pytest.raises(ProviderUnavailable) as outage:
        stripe_provider.charge(charge_request())
    assert outage.value.retryable is True
    script.replies["/v1/payment_intents"] = Reply(
        200, resource("payment_intent", status="succeeded")
    )
    stripe_provider.charge(charge_request())
    keys = [seen.headers["idempotency-key"] for seen in api.sent("POST", "/v1/payment_intents")]
    assert keys == [f"tally:{TRANSACTION}:1", f"tally:{TRANSACTION}:1"]


def test_a_declined_card_is_card_declined_with_the_decline_code(
    script: Script, stripe_provider: StripeProvider
) -> None:
    script.replies["/v1/payment_intents"] = card_error("card_declined", "insufficient_funds")
    with pytest.raises(CardDeclined) as declined:
        stripe_provider.charge(charge_request())
    assert declined.value.code == "card_declined"
    assert declined.value.decline_code == "insufficient_funds"
    assert declined.value.retryable is False


def test_a_card_needing_authentication_off_session_requires_action(
    script: Script, stripe_provider: StripeProvider
) -> None:
    script.replies["/v1/payment_intents"] = card_error("authentication_required")
    with pytest.raises(PaymentRequiresAction):
        stripe_provider.charge(charge_request())


def test_a_server_error_is_provider_unavailable(
    script: Script, stripe_provider: StripeProvider
) -> None:
    script.replies["/v1/payment_intents"] = Reply(
        500, {"error": {"type": "api_error", "message": "boom"}}
    )
    with pytest.raises(ProviderUnavailable):
        stripe_provider.charge(charge_request())


def test_a_rate_limit_is_provider_unavailable(
    script: Script, stripe_provider: StripeProvider
) -> None:
    script.replies["/v1/refunds"] = Reply(
        429, {"error": {"type": "invalid_request_error", "code": "rate_limit"}}
    )
    with pytest.raises(ProviderUnavailable):
        stripe_provider.refund(RefundRequest("pi_1", 100, "EUR", "tally:r:1"))


def test_a_timeout_is_provider_unavailable(script: Script, stripe_provider: StripeProvider) -> None:
    script.replies["/v1/payment_intents"] = Reply(200, resource("payment_intent"), delay_s=2.0)
    with pytest.raises(ProviderUnavailable):
        stripe_provider.charge(charge_request())


def test_an_unreachable_api_is_provider_unavailable() -> None:
    with fake_api(lambda seen: Reply()) as closed:
        address = closed.url
    provider = StripeProvider(
        api_key=API_KEY, webhook_secret="w", api_base=address, max_network_retries=0
    )
    with pytest.raises(ProviderUnavailable):
        provider.charge(charge_request())


def test_a_refused_api_key_is_misconfiguration_naming_the_variable_only(
    script: Script, api: FakeApi
) -> None:
    script.replies["/v1/customers"] = Reply(
        401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}}
    )
    provider = StripeProvider(
        api_key=API_KEY, webhook_secret="w", api_base=api.url, credential_names="STRIPE_API_KEY"
    )
    with pytest.raises(ProviderMisconfigured) as refused:
        provider.create_customer(CustomerRequest("tally:c-1", email="a@example.com"))
    assert "STRIPE_API_KEY" in str(refused.value)
    assert API_KEY not in str(refused.value)


def test_an_unknown_object_is_provider_rejected(
    script: Script, stripe_provider: StripeProvider
) -> None:
    script.replies["/v1/refunds"] = Reply(
        404,
        {
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": "No such payment_intent",
            }
        },
    )
    with pytest.raises(ProviderRejected) as rejected:
        stripe_provider.refund(RefundRequest("pi_missing", 100, "EUR", "tally:r:1"))
    assert rejected.value.context["stripe_code"] == "resource_missing"


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
