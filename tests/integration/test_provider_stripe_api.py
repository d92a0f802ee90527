"""The Stripe adapter's charges against a fake Stripe API on 127.0.0.1, through the real
SDK and its real HTTP client: idempotency keys sent, declines, outages, timeouts and
refused keys. Checkouts, customers, refunds and cancellations:
``test_provider_stripe_checkouts``."""

from __future__ import annotations

import pytest

from adapters.providers.base import (
    CustomerRequest,
    RefundRequest,
)
from adapters.providers.stripe import StripeProvider
from commands.provider_errors import (
    CardDeclined,
    PaymentRequiresAction,
    ProviderMisconfigured,
    ProviderRejected,
    ProviderUnavailable,
)
from tests.integration.provider_fake import FakeApi, Reply, fake_api
from tests.integration.stripe_script import (
    API_KEY,
    TRANSACTION,
    Script,
    api,
    card_error,
    charge_request,
    resource,
    script,
    stripe_provider,
)

__all__ = ["api", "script", "stripe_provider"]  # the fixtures, used by name


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
