"""YooKassa notifications: unsigned, so each is believed only once the object has been
fetched back from the API (answered here by httpx.MockTransport, no network) and agrees.
Payloads follow YooKassa's documented notification examples."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from adapters.providers.base import PaymentProvider
from adapters.providers.yookassa import YooKassaProvider
from commands.provider_errors import InvalidSignature, ProviderUnavailable
from commands.provider_events import EventType

PAYMENT_ID = "22d6d597-000f-5000-9000-145f6df21d6f"
REFUND_ID = "216749f7-0016-50be-b000-078d43a63ae4"

PAYMENT: dict[str, Any] = {
    "id": PAYMENT_ID,
    "status": "succeeded",
    "paid": True,
    "amount": {"value": "2.00", "currency": "RUB"},
    "authorization_details": {"rrn": "10000000000", "auth_code": "000000"},
    "captured_at": "2018-07-10T14:28:32.484Z",
    "created_at": "2018-07-10T14:27:54.691Z",
    "description": "Order 72",
    "metadata": {"tally_transaction": "t-72", "order": "72"},
    "payment_method": {
        "type": "bank_card",
        "id": PAYMENT_ID,
        "saved": True,
        "card": {
            "first6": "555555",
            "last4": "4444",
            "expiry_month": "07",
            "card_type": "MasterCard",
        },
        "title": "Bank card *4444",
    },
    "refundable": True,
    "test": False,
}

REFUND: dict[str, Any] = {
    "id": REFUND_ID,
    "status": "succeeded",
    "amount": {"value": "1.00", "currency": "RUB"},
    "created_at": "2017-10-04T19:27:51.407Z",
    "payment_id": "216749da-000f-50be-b000-096747fad91e",
}


def notification(event: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": "notification", "event": event, "object": obj}).encode()


def api(
    objects: dict[str, tuple[int, dict[str, Any]]], seen: list[httpx.Request]
) -> Callable[..., Any]:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, body = objects.get(request.url.path, (404, {"type": "error", "code": "not_found"}))
        return httpx.Response(status, json=body)

    return answer


def provider_with(
    objects: dict[str, tuple[int, dict[str, Any]]],
    seen: list[httpx.Request] | None = None,
    allowed: tuple[str, ...] = (),
) -> YooKassaProvider:
    transport = httpx.MockTransport(api(objects, seen if seen is not None else []))
    return YooKassaProvider(
        shop_id="506751",
        secret_key="test_unit_secret",
        allowed_sources=allowed,
        transport=transport,
    )


def test_a_confirmed_payment_succeeded_uses_the_fetched_object() -> None:
    seen: list[httpx.Request] = []
    provider = provider_with({f"/v3/payments/{PAYMENT_ID}": (200, PAYMENT)}, seen)
    # The notification claims another amount and metadata; only the API's answer counts.
    claimed = copy.deepcopy(PAYMENT) | {
        "amount": {"value": "999.00", "currency": "RUB"},
        "metadata": {},
    }
    [event] = provider.parse_webhook({}, notification("payment.succeeded", claimed))
    assert event.type is EventType.PAYMENT_SUCCEEDED
    assert (event.amount_minor, event.currency) == (200, "RUB")
    assert event.references == {"tally_transaction": "t-72"}
    assert event.payment_method_ref == PAYMENT_ID
    assert event.event_id == f"payment.succeeded:{PAYMENT_ID}"
    assert event.raw["confirmed"] == PAYMENT
    [fetch] = seen
    assert fetch.method == "GET"
    expected_auth = base64.b64encode(b"506751:test_unit_secret").decode()
    assert fetch.headers["authorization"] == f"Basic {expected_auth}"


def test_a_canceled_payment_is_a_failure_with_the_cancellation_reason() -> None:
    canceled = PAYMENT | {
        "status": "canceled",
        "paid": False,
        "cancellation_details": {"party": "payment_network", "reason": "insufficient_funds"},
    }
    provider = provider_with({f"/v3/payments/{PAYMENT_ID}": (200, canceled)})
    [event] = provider.parse_webhook({}, notification("payment.canceled", canceled))
    assert event.type is EventType.PAYMENT_FAILED
    assert event.failure_reason == "insufficient_funds"


def test_a_confirmed_refund_names_its_payment() -> None:
    provider = provider_with({f"/v3/refunds/{REFUND_ID}": (200, REFUND)})
    [event] = provider.parse_webhook({}, notification("refund.succeeded", REFUND))
    assert event.type is EventType.REFUND_SUCCEEDED
    assert (event.amount_minor, event.object_ref) == (100, REFUND_ID)
    assert event.payment_ref == "216749da-000f-50be-b000-096747fad91e"


def test_a_notification_the_api_contradicts_is_refused() -> None:
    pending = PAYMENT | {"status": "pending", "paid": False}
    provider = provider_with({f"/v3/payments/{PAYMENT_ID}": (200, pending)})
    with pytest.raises(InvalidSignature, match="is pending, not succeeded"):
        provider.parse_webhook({}, notification("payment.succeeded", PAYMENT))


def test_a_notification_about_an_object_the_api_does_not_know_is_refused() -> None:
    provider = provider_with({})
    with pytest.raises(InvalidSignature, match="knows no payment"):
        provider.parse_webhook({}, notification("payment.succeeded", PAYMENT))


def test_an_api_outage_while_confirming_asks_for_a_redelivery() -> None:
    provider = provider_with({f"/v3/payments/{PAYMENT_ID}": (500, {"type": "error"})})
    with pytest.raises(ProviderUnavailable):
        provider.parse_webhook({}, notification("payment.succeeded", PAYMENT))


def test_an_event_that_cannot_be_confirmed_is_refused() -> None:
    provider = provider_with({})
    with pytest.raises(InvalidSignature, match="cannot confirm"):
        provider.parse_webhook({}, notification("payout.succeeded", {"id": "po-1"}))


@pytest.mark.parametrize("body", [b"not json", b'{"type": "other"}', b"[]"])
def test_bodies_that_are_not_notifications_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidSignature):
        provider_with({}).parse_webhook({}, body)


def test_a_source_outside_the_allowlist_is_refused_before_any_fetch() -> None:
    seen: list[httpx.Request] = []
    provider = provider_with(
        {f"/v3/payments/{PAYMENT_ID}": (200, PAYMENT)}, seen, allowed=("185.71.76.0/27",)
    )
    with pytest.raises(InvalidSignature, match="not an allowed"):
        provider.parse_webhook(
            {}, notification("payment.succeeded", PAYMENT), source_address="203.0.113.9"
        )
    with pytest.raises(InvalidSignature, match="no source address"):
        provider.parse_webhook({}, notification("payment.succeeded", PAYMENT))
    assert seen == []


@pytest.mark.parametrize("address", ["185.71.76.5", "2a02:5180::1"])
def test_a_source_inside_the_allowlist_is_confirmed_and_accepted(address: str) -> None:
    provider = provider_with(
        {f"/v3/payments/{PAYMENT_ID}": (200, PAYMENT)},
        allowed=("185.71.76.0/27", "2a02:5180::/32"),
    )
    events = provider.parse_webhook(
        {}, notification("payment.succeeded", PAYMENT), source_address=address
    )
    assert [event.type for event in events] == [EventType.PAYMENT_SUCCEEDED]


def test_the_same_notification_twice_parses_to_the_same_event() -> None:
    provider = provider_with({f"/v3/payments/{PAYMENT_ID}": (200, PAYMENT)})
    body = notification("payment.succeeded", PAYMENT)
    assert provider.parse_webhook({}, body) == provider.parse_webhook({}, body)


def test_the_yookassa_adapter_satisfies_the_provider_protocol() -> None:
    provider = provider_with({})
    assert isinstance(provider, PaymentProvider)
    assert "test_unit_secret" not in repr(provider)


def test_a_refund_takes_its_payments_references_and_running_total() -> None:
    """A refund keeps no metadata (one made in YooKassa's dashboard, or Tally's own):
    the payment it names is fetched for Tally's references and refunded_amount."""
    paid = {
        **PAYMENT,
        "id": REFUND["payment_id"],
        "refunded_amount": {"value": "1.50", "currency": "RUB"},
    }
    mine = {
        **REFUND,
        "id": REFUND_ID[:-2] + "99",
        "amount": {"value": "0.50", "currency": "RUB"},
        "metadata": {"tally_refund_call": "c-1"},
    }
    seen: list[httpx.Request] = []
    provider = provider_with(
        {
            f"/v3/refunds/{REFUND_ID}": (200, REFUND),
            f"/v3/payments/{REFUND['payment_id']}": (200, paid),
            # The payment's refunds: Tally's own (its metadata names its call) is named
            # with the event, so the reversal by the total settles that call.
            "/v3/refunds": (200, {"type": "list", "items": [REFUND, mine]}),
        },
        seen,
    )
    [event] = provider.parse_webhook({}, notification("refund.succeeded", REFUND))
    assert event.references == {"tally_transaction": "t-72"}
    assert (event.amount_minor, event.refunded_total_minor) == (100, 150)
    assert dict(event.own_refunds) == {"c-1": mine["id"]}
    assert [r.url.path for r in seen] == [
        f"/v3/refunds/{REFUND_ID}",
        f"/v3/payments/{REFUND['payment_id']}",
        "/v3/refunds",
    ]
    assert dict(seen[-1].url.params) == {"payment_id": REFUND["payment_id"], "limit": "100"}


def test_a_refund_of_a_payment_yookassa_does_not_show_names_none() -> None:
    provider = provider_with({f"/v3/refunds/{REFUND_ID}": (200, REFUND)})
    [event] = provider.parse_webhook({}, notification("refund.succeeded", REFUND))
    assert (event.references, event.refunded_total_minor) == ({}, None)
