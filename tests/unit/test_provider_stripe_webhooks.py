"""Stripe webhooks: built from Stripe's own object fixtures, signed with the SDK's own
signature generator, verified and normalized exactly as in production."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import stripe

from adapters.providers.base import PaymentProvider
from adapters.providers.stripe import StripeProvider
from commands.provider_errors import InvalidSignature
from commands.provider_events import EventType

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO.parent / "shared" / "stripe" / "fixtures3.json"
SECRET = "whsec_unit_test_secret"


def resource(name: str, **changes: Any) -> dict[str, Any]:
    resources = json.loads(FIXTURES.read_text())["resources"]
    obj: dict[str, Any] = copy.deepcopy(resources[name])
    if name == "invoice":
        # The fixture names its subscription with the placeholder "subscription"; a real
        # event carries a Stripe id there, and the adapter checks the ids it keeps.
        obj["parent"]["subscription_details"]["subscription"] = "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw"
    obj.update(changes)
    return obj


def event_body(event_type: str, obj: dict[str, Any], event_id: str = "evt_unit_1") -> str:
    event = resource("event")
    event.update(id=event_id, type=event_type, data={"object": obj}, created=1_763_700_000)
    return json.dumps(event)


def signed(body: str, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp)
    return {"Stripe-Signature": header}


@pytest.fixture
def provider() -> StripeProvider:
    # No call in these tests goes to the API; the address is one nothing listens on.
    return StripeProvider(
        api_key="sk_test_unit", webhook_secret=SECRET, api_base="http://127.0.0.1:9"
    )


HANDLED = [
    ("customer.created", "customer", EventType.CUSTOMER_CREATED),
    ("customer.subscription.created", "subscription", EventType.SUBSCRIPTION_CREATED),
    ("customer.subscription.updated", "subscription", EventType.SUBSCRIPTION_UPDATED),
    ("customer.subscription.deleted", "subscription", EventType.SUBSCRIPTION_CANCELED),
    ("customer.subscription.trial_will_end", "subscription", EventType.TRIAL_WILL_END),
    ("invoice.created", "invoice", EventType.INVOICE_CREATED),
    ("invoice.finalized", "invoice", EventType.INVOICE_FINALIZED),
    ("invoice.paid", "invoice", EventType.INVOICE_PAID),
    ("invoice.payment_succeeded", "invoice", EventType.INVOICE_PAID),
    ("invoice.payment_failed", "invoice", EventType.INVOICE_PAYMENT_FAILED),
    ("checkout.session.completed", "checkout.session", EventType.CHECKOUT_COMPLETED),
    ("setup_intent.succeeded", "setup_intent", EventType.CHECKOUT_COMPLETED),
    ("payment_intent.succeeded", "payment_intent", EventType.PAYMENT_SUCCEEDED),
    ("payment_intent.payment_failed", "payment_intent", EventType.PAYMENT_FAILED),
    ("charge.refunded", "charge", EventType.REFUND_SUCCEEDED),
]


@pytest.mark.parametrize(("stripe_type", "resource_name", "expected"), HANDLED)
def test_each_handled_stripe_type_normalizes_to_its_tally_type(
    provider: StripeProvider, stripe_type: str, resource_name: str, expected: EventType
) -> None:
    obj = resource(resource_name)
    event_id = "evt_" + resource_name.replace(".", "_")
    body = event_body(stripe_type, obj, event_id=event_id)
    [event] = provider.parse_webhook(signed(body), body.encode())
    assert event.type is expected
    assert event.provider == "stripe"
    assert event.provider_type == stripe_type
    assert event.event_id == event_id
    assert event.object_ref == obj["id"]
    assert event.raw["data"]["object"] == obj
    assert event.occurred_at == datetime.fromtimestamp(1_763_700_000, UTC)


def test_an_unhandled_type_is_verified_and_reported_as_unknown(provider: StripeProvider) -> None:
    body = json.dumps(resource("event"))  # Stripe's fixture event is a plan.created
    [event] = provider.parse_webhook(signed(body), body.encode())
    assert event.type is EventType.UNKNOWN
    assert event.provider_type == "plan.created"


def test_invoice_paid_carries_amount_paid_currency_subscription_and_tally_references(
    provider: StripeProvider,
) -> None:
    invoice = resource("invoice", amount_paid=2599, amount_due=2599, currency="eur", status="paid")
    invoice["parent"] = {
        "type": "subscription_details",
        "subscription_details": {
            "subscription": "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw",
            "metadata": {"tally_subscription": "s-1", "tally_project": "p-1", "plan": "pro"},
        },
    }
    body = event_body("invoice.paid", invoice)
    [event] = provider.parse_webhook(signed(body), body.encode())
    assert (event.amount_minor, event.currency) == (2599, "EUR")
    assert event.subscription_ref == "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw"
    assert event.customer_ref == "cus_QXg1o8vcGmoR32"
    assert event.references == {"tally_subscription": "s-1", "tally_project": "p-1"}


def test_subscription_events_name_the_subscription_customer_status_and_references(
    provider: StripeProvider,
) -> None:
    subscription = resource(
        "subscription", status="past_due", metadata={"tally_subscription": "s-4"}
    )
    body = event_body("customer.subscription.updated", subscription)
    [event] = provider.parse_webhook(signed(body), body.encode())
    assert event.subscription_ref == "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw"
    assert event.customer_ref == "cus_QXg1o8vcGmoR32"
    assert (event.status, event.currency) == ("past_due", "USD")
    assert event.references == {"tally_subscription": "s-4"}


def test_invoice_payment_failed_reports_what_is_still_due(provider: StripeProvider) -> None:
    invoice = resource("invoice", status="open", amount_due=4900, amount_paid=0, attempt_count=2)
    invoice["subscription"] = "sub_old_api_version"
    body = event_body("invoice.payment_failed", invoice)
    [event] = provider.parse_webhook(signed(body), body.encode())
    assert (event.type, event.amount_minor, event.status) == (
        EventType.INVOICE_PAYMENT_FAILED,
        4900,
        "open",
    )
    assert event.subscription_ref == "sub_old_api_version"


def test_invoice_created_reports_what_is_due(provider: StripeProvider) -> None:
    body = event_body("invoice.created", resource("invoice"))
    [event] = provider.parse_webhook(signed(body), body.encode())
    assert (event.amount_minor, event.currency, event.status) == (1000, "USD", "draft")


def test_failed_payment_intent_reports_the_decline_code(provider: StripeProvider) -> None:
    intent = resource("payment_intent", status="requires_payment_method")
    intent["last_payment_error"] = {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": "insufficient_funds",
    }
    intent["metadata"] = {"tally_transaction": "t-9"}
    body = event_body("payment_intent.payment_failed", intent)
    [event] = provider.parse_webhook(signed(body), body.encode())
    assert event.failure_reason == "insufficient_funds"
    assert event.amount_minor == 1099
    assert event.references == {"tally_transaction": "t-9"}
    assert event.payment_ref == intent["id"]


def test_succeeded_payment_intent_reports_the_amount_received(provider: StripeProvider) -> None:
    intent = resource("payment_intent", status="succeeded", amount_received=1099)
    body = event_body("payment_intent.succeeded", intent)
    [event] = provider.parse_webhook(signed(body), body.encode())
    assert (event.amount_minor, event.currency, event.failure_reason) == (1099, "USD", None)


def test_charge_refunded_reports_the_newest_refund_and_the_running_total(
    provider: StripeProvider,
) -> None:
    first = resource("refund", id="re_first", amount=30, created=1_763_700_000)
    newest = resource("refund", id="re_newest", amount=20, created=1_763_700_100)
    charge = resource("charge", amount=100, amount_refunded=50, refunded=False)
    charge["refunds"] = {"object": "list", "data": [first, newest], "has_more": False}
    charge["payment_intent"] = "pi_1PgafyB7WZ01zgkWSjxsAJo3"
    body = event_body("charge.refunded", charge)
    [event] = provider.parse_webhook(signed(body), body.encode())
    assert event.object_ref == "re_newest"
    assert (event.amount_minor, event.refunded_total_minor) == (20, 50)
    assert event.payment_ref == "pi_1PgafyB7WZ01zgkWSjxsAJo3"


def test_charge_refunded_takes_tallys_references_from_its_newest_refund(
    provider: StripeProvider,
) -> None:
    """A listed refund Tally asked for names its call: the event is that call's report,
    not a dashboard refund (which used to reverse the transaction a second time)."""
    mine = {"tally_transaction": "t-1", "tally_refund_call": "c-1"}
    newest = resource("refund", id="re_mine", amount=20, created=1_763_700_100, metadata=mine)
    charge = resource(
        "charge", amount=100, amount_refunded=20, metadata={"tally_transaction": "t-1"}
    )
    charge["refunds"] = {"object": "list", "data": [newest], "has_more": False}
    body = event_body("charge.refunded", charge)
    [event] = provider.parse_webhook(signed(body), body.encode())
    assert dict(event.references) == mine


def test_checkout_completed_carries_total_and_client_reference(provider: StripeProvider) -> None:
    session = resource(
        "checkout.session",
        status="complete",
        payment_status="paid",
        amount_total=4200,
        currency="gbp",
        client_reference_id="checkout-7",
        metadata={"tally_project": "p-1"},
    )
    body = event_body("checkout.session.completed", session)
    [event] = provider.parse_webhook(signed(body), body.encode())
    assert (event.amount_minor, event.currency, event.status) == (4200, "GBP", "paid")
    assert event.references == {"tally_project": "p-1", "tally_checkout": "checkout-7"}


def test_a_succeeded_setup_intent_names_the_saved_card_and_tally_references(
    provider: StripeProvider,
) -> None:
    metadata = {"tally_subscription": "s-1", "tally_checkout_mode": "setup"}
    obj = resource("setup_intent", customer="cus_1", payment_method="pm_1", metadata=metadata)
    body = event_body("setup_intent.succeeded", obj)
    [event] = provider.parse_webhook(signed(body), body.encode())
    assert (event.customer_ref, event.payment_method_ref) == ("cus_1", "pm_1")
    assert event.references == metadata


def test_the_same_delivery_twice_parses_to_the_same_event_id(provider: StripeProvider) -> None:
    body = event_body("invoice.paid", resource("invoice"), event_id="evt_twice")
    first = provider.parse_webhook(signed(body), body.encode())
    again = provider.parse_webhook(signed(body), body.encode())
    assert first == again
    assert first[0].event_id == "evt_twice"


def test_a_signature_made_with_another_secret_is_refused(provider: StripeProvider) -> None:
    body = event_body("invoice.paid", resource("invoice"))
    with pytest.raises(InvalidSignature) as refused:
        provider.parse_webhook(signed(body, secret="whsec_attacker"), body.encode())
    assert refused.value.code == "invalid_signature"


def test_a_body_changed_after_signing_is_refused(provider: StripeProvider) -> None:
    body = event_body("invoice.paid", resource("invoice", amount_paid=1000))
    headers = signed(body)
    tampered = body.replace('"amount_paid": 1000', '"amount_paid": 1')
    assert tampered != body
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(headers, tampered.encode())


def test_a_forged_signature_value_is_refused(provider: StripeProvider) -> None:
    body = event_body("invoice.paid", resource("invoice"))
    forged = {"Stripe-Signature": f"t={int(time.time())},v1={'0' * 64}"}
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(forged, body.encode())


def test_a_signature_older_than_300_seconds_is_refused(provider: StripeProvider) -> None:
    body = event_body("invoice.paid", resource("invoice"))
    with pytest.raises(InvalidSignature, match="tolerance"):
        provider.parse_webhook(signed(body, timestamp=int(time.time()) - 301), body.encode())


def test_a_signature_just_inside_the_window_is_accepted(provider: StripeProvider) -> None:
    body = event_body("invoice.paid", resource("invoice"))
    events = provider.parse_webhook(signed(body, timestamp=int(time.time()) - 290), body.encode())
    assert [event.type for event in events] == [EventType.INVOICE_PAID]


def test_a_signature_dated_in_the_future_is_refused(provider: StripeProvider) -> None:
    body = event_body("invoice.paid", resource("invoice"))
    with pytest.raises(InvalidSignature, match="future"):
        provider.parse_webhook(signed(body, timestamp=int(time.time()) + 3600), body.encode())


def test_a_missing_signature_header_is_refused(provider: StripeProvider) -> None:
    body = event_body("invoice.paid", resource("invoice"))
    with pytest.raises(InvalidSignature):
        provider.parse_webhook({}, body.encode())


def test_the_signature_header_name_is_case_insensitive(provider: StripeProvider) -> None:
    body = event_body("invoice.paid", resource("invoice"))
    headers = {"stripe-signature": signed(body)["Stripe-Signature"]}
    assert len(provider.parse_webhook(headers, body.encode())) == 1


def test_a_signed_body_that_is_not_an_event_is_refused(provider: StripeProvider) -> None:
    body = json.dumps(resource("invoice"))
    with pytest.raises(InvalidSignature, match="not a Stripe event"):
        provider.parse_webhook(signed(body), body.encode())


def test_the_stripe_adapter_satisfies_the_provider_protocol(provider: StripeProvider) -> None:
    assert isinstance(provider, PaymentProvider)
    assert "sk_test_unit" not in repr(provider)
