"""What the webhook tests share (issue 12): a Tally whose deliveries the test drives
(``drain``, no background thread) with a secrets key to seal endpoint secrets, a
test-mode project on it (its endpoints may be local receivers), and helpers that
register an endpoint, make events and wait for delivery's own writes.

The fixtures are imported by name into the test modules that use them
(``test_webhook_delivery``, ``test_webhook_endpoints``, ``test_webhooks_cli``,
``test_webhook_fairness``, ``test_webhook_hashes``, ``test_operator_webhooks``,
``test_entitlement_changes``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from adapters.clock import FixedClock
from api.app import create_app
from api.bootstrap import Tally
from api.settings import Settings
from projections.runner import wait_for_position
from tests.e2e.billing import client_in_mode
from tests.e2e.conftest import Client
from tests.e2e.sealed import sealed_build
from tests.e2e.webhook_receiver import Receiver


@pytest.fixture
def hooks_tally(settings: Settings, clock: FixedClock) -> Iterator[Tally]:
    # Deliveries are driven by the test (drain), not by the background thread.
    with sealed_build(settings, clock, run_webhooks=False) as tally:
        yield tally


@pytest.fixture
def hooks_http(hooks_tally: Tally) -> Iterator[TestClient]:
    with TestClient(create_app(hooks_tally), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def sandbox(hooks_http: TestClient, hooks_tally: Tally) -> Client:
    return client_in_mode(hooks_http, hooks_tally, "sandbox", "test")


def endpoint(api: Client, receiver: Receiver, **fields: Any) -> dict[str, Any]:
    made: dict[str, Any] = api.ok(
        api.post("/v1/webhook_endpoints", {"url": receiver.url, **fields}), 201
    )
    receiver.secret = made["secret"]
    return made


def deposits(api: Client, n: int) -> str:
    """``n`` deposits into a new wallet (each deposit: two events)."""
    account = api.open_account(f"owner_{uuid4().hex[:8]}")
    for i in range(n):
        api.deposit(account, 100 + i)
    return account


def next_attempt_at(tally: Tally, endpoint_id: str) -> Any:
    from adapters.webhook_attempts import STATE_TABLE
    from projections.paging import fetch_all
    from projections.schema import table

    query = sql.SQL("SELECT next_attempt_at FROM {} WHERE endpoint_id = %s").format(
        table(tally.schema, STATE_TABLE)
    )
    return fetch_all(tally.views, query, [endpoint_id])[0]["next_attempt_at"]


def settle(tally: Tally) -> None:
    head = int(tally.store.recorder.max_notification_id() or 0)
    assert wait_for_position(tally.views, tally.schema, head, 10)
