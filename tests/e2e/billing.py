"""Helpers for the customer, catalog, subscription and test-clock HTTP tests: a client of a
test-mode project, and short steps (a plan, a customer, a subscription) over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from adapters.providers.stub import payment_method_for
from api.bootstrap import NO_PROJECT, Tally
from commands import messages as m
from commands.bus import Context
from tests.e2e.conftest import Client

START = datetime(2030, 1, 31, 9, tzinfo=UTC)


def client_in_mode(http: TestClient, tally: Tally, name: str, mode: str) -> Client:
    """A client of a new project in ``mode`` (conftest's projects are live-mode)."""
    from projections.runner import wait_for_position

    project = tally.execute(m.CreateProject(name=name, mode=mode), Context(NO_PROJECT, "cli"))
    project_id = UUID(project.body["project"]["id"])
    key = tally.execute(m.IssueApiKey(project_id=project_id), Context(project_id, "cli"))
    assert key.position is not None
    assert wait_for_position(tally.views, tally.schema, key.position, 10)
    return Client(http, tally, key.body["secret"], project_id, key.body["key_id"])


@pytest.fixture
def sandbox(http: TestClient, app_tally: Tally) -> Client:
    """A client of a test-mode project (test clocks allowed)."""
    return client_in_mode(http, app_tally, "sandbox", "test")


def product(api: Client, code: str, features: list[str] | None = None) -> str:
    body = {"code": code, "name": code.title(), "features": features or [code.lower()]}
    response = api.post("/v1/products", body)
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


def price(api: Client, product_id: str, lookup_key: str, **fields: Any) -> str:
    body = {
        "product_id": product_id,
        "lookup_key": lookup_key,
        "currency": "EUR",
        "scheme": "flat",
        "interval": "month",
        **fields,
    }
    response = api.post("/v1/prices", body)
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


def plan(api: Client, code: str, amount: int, **fields: Any) -> str:
    """A product with one monthly flat price; returns the price id."""
    return price(api, product(api, code), f"{code.lower()}_monthly", unit_amount=amount, **fields)


def customer(api: Client, external_id: str = "user_1", **fields: Any) -> str:
    body = {"external_id": external_id, "currency": "EUR", **fields}
    response = api.post("/v1/customers", body)
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


def card(api: Client, customer_id: str, number: str) -> None:
    """Make the stub test card ``number`` the customer's default payment method."""
    body = {
        "customer_id": customer_id,
        "payment_method": payment_method_for(number),
        "make_default": True,
    }
    api.ok(api.post("/v1/payment_methods", body))


def subscribe(api: Client, customer_id: str, *price_ids: str, **fields: Any) -> dict[str, Any]:
    body = {"customer_id": customer_id, "items": [{"price_id": p} for p in price_ids], **fields}
    subscription: dict[str, Any] = api.ok(api.post("/v1/subscriptions", body), 201)
    return subscription


def clock(api: Client, at: datetime = START) -> str:
    body = {"name": "test", "frozen_time": at.isoformat()}
    return str(api.ok(api.post("/v1/test_clocks", body), 201)["id"])


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["type"] == f"urn:tally:problem:{code}"
    return body
