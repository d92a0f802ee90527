"""Paddle's own changes to a customer's saved methods, mirrored over HTTP (issue 18):
a signed ``payment_method.saved`` attaches the ``paymtd_...`` method to the Tally
customer its Paddle customer names (``custom_data``), ``payment_method.deleted``
detaches it, and neither is sent back to Paddle, which made the change."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.e2e.billing import customer
from tests.e2e.conftest import Client
from tests.e2e.paddle_sandbox import notify, shop
from tests.integration.provider_fake import FakeApi, Reply, Seen

__all__ = ["shop"]  # the fixture this module's tests use

CUSTOMER = "ctm_01hv6y1jedq4p1n0yqn5ba3ky4"
METHOD = "paymtd_01hv8wrpb6bs6x6m4ph9qrr5yp"


class FakePaddle:
    """Paddle's customer (one Tally made, its ``custom_data`` naming Tally's), read back."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.custom_data: dict[str, Any] = {}

    def __call__(self, seen: Seen) -> Reply:
        with self.lock:
            if seen.method == "POST" and seen.path == "/customers":
                self.custom_data = dict(seen.json().get("custom_data") or {})
                return Reply(201, {"data": {"id": CUSTOMER, "email": seen.json()["email"]}})
            if seen.method == "GET" and seen.path == f"/customers/{CUSTOMER}":
                return Reply(200, {"data": {"id": CUSTOMER, "custom_data": self.custom_data}})
            return Reply(404, {"error": {"code": "not_found", "detail": seen.path}})


@pytest.fixture
def fake() -> FakePaddle:
    return FakePaddle()


def method_event(api: Client, kind: str, event_id: str, at: str) -> None:
    notification = {
        "event_id": event_id,
        "event_type": kind,
        "occurred_at": at,
        "notification_id": "ntf_01hv8x2af4sd0yr8b9c4bj7afy",
        "data": {"id": METHOD, "customer_id": CUSTOMER, "type": "card", "origin": "subscription"},
    }
    notify(api, notification)


def test_paddles_saved_and_deleted_methods_are_mirrored_without_a_call_back(
    shop: tuple[Client, FakeApi], fake: FakePaddle
) -> None:
    api, paddle = shop
    ida = customer(api, "ida", email="ida@example.com")
    fake.custom_data = {"tally_customer": ida, "tally_project": str(api.project_id)}
    saved = "evt_01hv8x2acma2gz6her25cnys9a"
    method_event(api, "payment_method.saved", saved, "2026-11-21T10:00:00Z")
    methods = api.ok(api.get("/v1/payment_methods", customer_id=ida))["data"]
    assert [m["id"] for m in methods] == [METHOD]
    method_event(
        api, "payment_method.deleted", "evt_01hv8x2acma2gz6her25cnys9b", "2026-11-21T11:00:00Z"
    )
    assert api.ok(api.get("/v1/payment_methods", customer_id=ida))["data"] == []
    # An older ``saved`` delivered late changes nothing.
    method_event(
        api, "payment_method.saved", "evt_01hv8x2acma2gz6her25cnys9c", "2026-11-21T10:30:00Z"
    )
    assert api.ok(api.get("/v1/payment_methods", customer_id=ida))["data"] == []
    assert paddle.sent("DELETE", "/customers/") == []
