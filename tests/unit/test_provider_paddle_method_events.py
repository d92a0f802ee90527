"""Paddle's own payment-method notifications (``payment_method.saved``/``deleted``,
issue 18): mapped to the same events as Stripe's attach/detach, with the Tally customer
read from the Paddle customer's ``custom_data`` (``paddle_customer_refs.py``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from adapters.clock import FixedClock
from adapters.providers.paddle import PaddleProvider
from commands.provider_events import EventType
from tests.paddle_openapi import checked_transport
from tests.unit.test_provider_paddle_webhooks import NOW, SECRET, sign

CUSTOMER = "ctm_01hv6y1jedq4p1n0yqn5ba3ky4"
METHOD = "paymtd_01hs8zx6x377xfsfrt2bqsevbw"
TALLY = {"tally_customer": "3a1f0c2e-5b7d-4c1b-9a51-2f1f3f0e9a11", "tally_project": "p-1"}


def notification(kind: str, customer: str = CUSTOMER) -> dict[str, Any]:
    return {
        "event_id": "evt_01hv8x2acma2gz6her25cnys9" + ("a" if kind.endswith("saved") else "b"),
        "event_type": kind,
        "occurred_at": "2024-04-12T10:18:49.621022Z",
        "notification_id": "ntf_01hv8x2af4sd0yr8b9c4bj7afy",
        "data": {
            "id": METHOD,
            "customer_id": customer,
            "address_id": "add_01hv8gq3318ktkfengj2r75gfx",
            "type": "card",
            "origin": "saved_during_purchase",
            "saved_at": "2024-04-12T10:18:48.294Z",
            "updated_at": "2024-04-12T10:18:48.294Z",
        },
    }


class Customers:
    """Paddle's customer endpoint: Tally's customer has its references, any other is
    not this account's (404)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(f"{request.method} {request.url.path}")
        if request.url.path == f"/customers/{CUSTOMER}":
            return httpx.Response(200, json={"data": {"id": CUSTOMER, "custom_data": TALLY}})
        error = {"type": "request_error", "code": "entity_not_found", "detail": "no"}
        return httpx.Response(404, json={"error": error})


@pytest.fixture
def customers() -> Customers:
    return Customers()


@pytest.fixture
def provider(customers: Customers) -> Iterator[PaddleProvider]:
    made = PaddleProvider(
        api_key="pdl_unit_key",
        webhook_secret=SECRET,
        clock=FixedClock(NOW),
        transport=checked_transport(customers),
    )
    yield made
    made.close()


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("payment_method.saved", EventType.PAYMENT_METHOD_ATTACHED),
        ("payment_method.deleted", EventType.PAYMENT_METHOD_DETACHED),
    ],
)
def test_a_method_paddle_saved_or_deleted_names_tallys_customer(
    provider: PaddleProvider, customers: Customers, kind: str, expected: EventType
) -> None:
    body = json.dumps(notification(kind)).encode()
    [event] = provider.parse_webhook(sign(body), body)
    assert event.type is expected
    assert (event.customer_ref, event.payment_method_ref) == (CUSTOMER, METHOD)
    assert event.references["tally_customer"] == TALLY["tally_customer"]
    assert customers.asked == [f"GET /customers/{CUSTOMER}"]


def test_a_method_of_a_customer_paddle_does_not_show_names_none(
    provider: PaddleProvider,
) -> None:
    other = "ctm_01hv6y1jedq4p1n0yqn5ba3kzz"
    body = json.dumps(notification("payment_method.deleted", other)).encode()
    [event] = provider.parse_webhook(sign(body), body)
    assert event.type is EventType.PAYMENT_METHOD_DETACHED
    assert "tally_customer" not in event.references
