"""Paddle Billing webhooks: payloads in the shape of Paddle's documented examples,
signed here with an independent HMAC (not the adapter's own signer) as Paddle signs."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.clock import FixedClock
from adapters.providers.base import PaymentProvider
from adapters.providers.paddle import PaddleProvider
from commands.provider_errors import InvalidSignature
from commands.provider_events import EventType

SECRET = "pdl_ntfset_01unit_secret"
NOW = datetime(2024, 4, 12, 10, 20, tzinfo=UTC)

TRANSACTION_COMPLETED: dict[str, Any] = {
    "event_id": "evt_01hv8x2acma2gz6her25cnys9a",
    "event_type": "transaction.completed",
    "occurred_at": "2024-04-12T10:18:49.621022Z",
    "notification_id": "ntf_01hv8x2af4sd0yr8b9c4bj7afy",
    "data": {
        "id": "txn_01hv8wptq8987qeep44cyrewp9",
        "items": [
            {
                "price": {"id": "pri_01gsz8x8sawmvhz1pv30nge1ke", "product_id": "pro_01gsz4t5"},
                "quantity": 10,
                "proration": None,
            }
        ],
        "origin": "web",
        "status": "completed",
        "details": {
            "totals": {
                "fee": "3311",
                "tax": "5315",
                "total": "65215",
                "credit": "0",
                "balance": "0",
                "discount": "0",
                "earnings": "56589",
                "subtotal": "59900",
                "grand_total": "65215",
                "currency_code": "USD",
                "credit_to_balance": "0",
            },
            "line_items": [{"id": "txnitm_01hv8wt98jahpbm1t1tzr06z6n", "quantity": 10}],
        },
        "payments": [
            {
                "amount": "65215",
                "status": "captured",
                "created_at": "2024-04-12T10:18:47.635628Z",
                "error_code": None,
                "captured_at": "2024-04-12T10:18:48.294633Z",
                "method_details": {"card": {"type": "visa", "last4": "3184"}, "type": "card"},
                "payment_method_id": "paymtd_01hv8x1tpjfnttxddw73xnqx6s",
                "payment_attempt_id": "cd2bb3bd-2e4f-4e3c-b7e5-1b2c2c1b9b2e",
            }
        ],
        "billed_at": "2024-04-12T10:18:48.294633Z",
        "custom_data": {"tally_transaction": "t-1", "tally_project": "p-1", "source": "web"},
        "customer_id": "ctm_01hv6y1jedq4p1n0yqn5ba3ky4",
        "currency_code": "USD",
        "collection_mode": "automatic",
        "subscription_id": "sub_01hv8x29kz0t586xy6zn1a62ny",
    },
}

PAYMENT_FAILED = copy.deepcopy(TRANSACTION_COMPLETED)
PAYMENT_FAILED.update(
    event_id="evt_01hv9aa0fa11ed0kq2m7c3xz9t", event_type="transaction.payment_failed"
)
PAYMENT_FAILED["data"].update(status="past_due")
PAYMENT_FAILED["data"]["payments"] = [
    {
        "amount": "65215",
        "status": "error",
        "error_code": "declined",
        "payment_method_id": "paymtd_01hv8x1tpjfnttxddw73xnqx6s",
    },
    TRANSACTION_COMPLETED["data"]["payments"][0],
]

SUBSCRIPTION_CREATED: dict[str, Any] = {
    "event_id": "evt_01hv8x2b0q3bc7ezxzj3bm6z0c",
    "event_type": "subscription.created",
    "occurred_at": "2024-04-12T10:18:50.105921Z",
    "notification_id": "ntf_01hv8x2b3x9e1m0b0x4s2n2m5n",
    "data": {
        "id": "sub_01hv8x29kz0t586xy6zn1a62ny",
        "status": "active",
        "customer_id": "ctm_01hv6y1jedq4p1n0yqn5ba3ky4",
        "address_id": "add_01hv8x1ssrgq2d6wz5sa7m1b8n",
        "currency_code": "USD",
        "collection_mode": "automatic",
        "billing_cycle": {"interval": "month", "frequency": 1},
        "current_billing_period": {
            "starts_at": "2024-04-12T10:18:47.635628Z",
            "ends_at": "2024-05-12T10:18:47.635628Z",
        },
        "items": [{"price": {"id": "pri_01gsz8x8sawmvhz1pv30nge1ke"}, "quantity": 10}],
        "custom_data": {"tally_subscription": "s-1"},
        "transaction_id": "txn_01hv8wptq8987qeep44cyrewp9",
        "scheduled_change": None,
    },
}


def variant(base: dict[str, Any], event_type: str, seed: str, **data: Any) -> dict[str, Any]:
    """``base`` as another event type, with an event id of Paddle's shape made from
    ``seed`` (``evt_`` and 26 lower-case letters or digits: the adapter checks it)."""
    event = copy.deepcopy(base)
    event_id = "evt_" + hashlib.sha256(seed.encode()).hexdigest()[:26]
    event.update(event_type=event_type, event_id=event_id)
    event["data"].update(data)
    return event


def sign(body: bytes, secret: str = SECRET, ts: int | None = None) -> dict[str, str]:
    timestamp = int(NOW.timestamp()) if ts is None else ts
    mac = hmac.new(secret.encode(), f"{timestamp}:".encode() + body, hashlib.sha256)
    return {"Paddle-Signature": f"ts={timestamp};h1={mac.hexdigest()}"}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def provider(clock: FixedClock) -> PaddleProvider:
    return PaddleProvider(
        api_key="pdl_unit_key", webhook_secret=SECRET, api_base="http://127.0.0.1:9", clock=clock
    )


def parse(provider: PaddleProvider, payload: dict[str, Any]) -> Any:
    body = json.dumps(payload).encode()
    [event] = provider.parse_webhook(sign(body), body)
    return event


def test_transaction_completed_is_a_payment_success_in_minor_units(
    provider: PaddleProvider,
) -> None:
    event = parse(provider, TRANSACTION_COMPLETED)
    assert event.type is EventType.PAYMENT_SUCCEEDED
    assert event.event_id == "evt_01hv8x2acma2gz6her25cnys9a"
    assert event.object_ref == "txn_01hv8wptq8987qeep44cyrewp9"
    assert (event.amount_minor, event.currency) == (65215, "USD")
    assert event.customer_ref == "ctm_01hv6y1jedq4p1n0yqn5ba3ky4"
    assert event.subscription_ref == "sub_01hv8x29kz0t586xy6zn1a62ny"
    assert event.payment_method_ref == "paymtd_01hv8x1tpjfnttxddw73xnqx6s"
    assert event.references == {"tally_transaction": "t-1", "tally_project": "p-1"}
    assert event.occurred_at == datetime(2024, 4, 12, 10, 18, 49, 621022, tzinfo=UTC)


def test_transaction_payment_failed_reports_the_newest_attempts_error(
    provider: PaddleProvider,
) -> None:
    event = parse(provider, PAYMENT_FAILED)
    assert event.type is EventType.PAYMENT_FAILED
    assert event.failure_reason == "declined"
    assert event.status == "past_due"


@pytest.mark.parametrize(
    ("paddle_type", "expected", "status"),
    [
        ("subscription.created", EventType.SUBSCRIPTION_CREATED, "active"),
        ("subscription.updated", EventType.SUBSCRIPTION_UPDATED, "past_due"),
        ("subscription.canceled", EventType.SUBSCRIPTION_CANCELED, "canceled"),
        ("subscription.paused", EventType.SUBSCRIPTION_UPDATED, "paused"),
        ("subscription.resumed", EventType.SUBSCRIPTION_UPDATED, "active"),
    ],
)
def test_subscription_events_name_the_subscription_and_its_customer(
    provider: PaddleProvider, paddle_type: str, expected: EventType, status: str
) -> None:
    payload = variant(SUBSCRIPTION_CREATED, paddle_type, status, status=status)
    event = parse(provider, payload)
    assert event.type is expected
    assert event.subscription_ref == event.object_ref == "sub_01hv8x29kz0t586xy6zn1a62ny"
    assert event.customer_ref == "ctm_01hv6y1jedq4p1n0yqn5ba3ky4"
    assert event.status == status
    assert event.references == {"tally_subscription": "s-1"}


def test_an_unhandled_paddle_type_is_reported_as_unknown(provider: PaddleProvider) -> None:
    payload = variant(SUBSCRIPTION_CREATED, "address.created", "active", status="active")
    assert parse(provider, payload).type is EventType.UNKNOWN


def test_the_same_delivery_twice_parses_to_the_same_event(provider: PaddleProvider) -> None:
    assert parse(provider, TRANSACTION_COMPLETED) == parse(provider, TRANSACTION_COMPLETED)


def test_a_signature_under_another_secret_is_refused(provider: PaddleProvider) -> None:
    body = json.dumps(TRANSACTION_COMPLETED).encode()
    with pytest.raises(InvalidSignature, match="does not match"):
        provider.parse_webhook(sign(body, secret="pdl_ntfset_other"), body)


def test_a_body_changed_after_signing_is_refused(provider: PaddleProvider) -> None:
    body = json.dumps(TRANSACTION_COMPLETED).encode()
    headers = sign(body)
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(headers, body.replace(b'"65215"', b'"1"'))


def test_a_signature_older_than_the_window_is_refused(
    provider: PaddleProvider, clock: FixedClock
) -> None:
    body = json.dumps(TRANSACTION_COMPLETED).encode()
    headers = sign(body)
    clock.advance(timedelta(seconds=301))
    with pytest.raises(InvalidSignature, match="outside the 300 s window"):
        provider.parse_webhook(headers, body)


def test_a_replay_inside_the_window_is_verified_and_keeps_its_event_id(
    provider: PaddleProvider, clock: FixedClock
) -> None:
    body = json.dumps(TRANSACTION_COMPLETED).encode()
    headers = sign(body)
    first = provider.parse_webhook(headers, body)
    clock.advance(timedelta(seconds=299))
    # Verification passes; the endpoint deduplicates on the id, which is unchanged.
    assert provider.parse_webhook(headers, body)[0].event_id == first[0].event_id


def test_a_signature_dated_in_the_future_is_refused(provider: PaddleProvider) -> None:
    body = json.dumps(TRANSACTION_COMPLETED).encode()
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(sign(body, ts=int(NOW.timestamp()) + 600), body)


@pytest.mark.parametrize(
    "header", ["", "ts=1712917200", "h1=abc", "ts=abc;h1=00", "garbage", "ts=1712917200;h1="]
)
def test_malformed_signature_headers_are_refused(provider: PaddleProvider, header: str) -> None:
    body = json.dumps(TRANSACTION_COMPLETED).encode()
    with pytest.raises(InvalidSignature):
        provider.parse_webhook({"Paddle-Signature": header}, body)


def test_a_second_h1_during_secret_rotation_is_accepted(provider: PaddleProvider) -> None:
    body = json.dumps(TRANSACTION_COMPLETED).encode()
    good = sign(body)["Paddle-Signature"]
    rotated = good.replace("h1=", f"h1={'f' * 64};h1=")
    assert len(provider.parse_webhook({"paddle-signature": rotated}, body)) == 1


def test_a_signed_body_that_is_not_a_notification_is_refused(provider: PaddleProvider) -> None:
    body = b'{"hello": "world"}'
    with pytest.raises(InvalidSignature, match="not a Paddle notification"):
        provider.parse_webhook(sign(body), body)


def test_the_paddle_adapter_satisfies_the_provider_protocol(provider: PaddleProvider) -> None:
    assert isinstance(provider, PaymentProvider)
    assert "pdl_unit_key" not in repr(provider)
