"""A project on YooKassa (against a fake YooKassa API on 127.0.0.1): notifications are
unsigned, so each is believed only once the payment fetched back from the API agrees;
while the API is down the webhook answers 503 and records nothing (YooKassa
redelivers), and the redelivery then confirms the top-up."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from adapters.clock import FixedClock
from api.settings import Settings
from tests.e2e.billing import problem
from tests.e2e.conftest import Client, head, nothing_written, serve
from tests.integration.provider_fake import FakeApi, Reply, Seen, fake_api

PAYMENT_ID = "2d6a1f2e-000f-5000-8000-1a2b3c4d5e6f"
BACK = {"success_url": "https://shop.example/paid", "cancel_url": "https://shop.example/back"}


class YooKassa:
    """Scripted answers: checkout creation is down; ``GET /v3/payments/<its id>``
    answers ``payment``, any other address 404, as the real API does."""

    def __init__(self) -> None:
        self.up = True
        self.payment: dict[str, Any] = {}
        self.refund: dict[str, Any] = {}

    def __call__(self, seen: Seen) -> Reply:
        if seen.method == "POST" or not self.up:
            return Reply(503, {"type": "error", "code": "internal_server_error"})
        if self.payment and seen.path == f"/v3/payments/{self.payment['id']}":
            return Reply(200, self.payment)
        if self.refund and seen.path == f"/v3/refunds/{self.refund['id']}":
            return Reply(200, self.refund)
        if seen.path == "/v3/refunds":  # a payment's refunds
            return Reply(200, {"type": "list", "items": [self.refund] if self.refund else []})
        return Reply(404, {"type": "error", "code": "not_found"})


@pytest.fixture
def yookassa() -> Iterator[tuple[YooKassa, FakeApi]]:
    script = YooKassa()
    with fake_api(script) as api:
        yield script, api


@contextmanager
def on_yookassa(settings: Settings, clock: FixedClock, api: FakeApi) -> Iterator[Client]:
    """A served project whose payment provider is YooKassa at ``api`` (credentials named
    by environment variables the project's environment holds); its outbox runs only
    when a test drains it."""
    with serve(settings.model_copy(update={"run_outbox": False}), clock) as client:
        client.tally.providers.environ = {"ACME_SHOP": "506751", "ACME_KEY": "test_key"}
        chosen = {
            "provider": "yookassa",
            "credential_env": {"shop_id": "ACME_SHOP", "secret_key": "ACME_KEY"},
            "api_base": api.url,
        }
        client.ok(client.post("/v1/payment_provider", chosen))
        yield client


@pytest.fixture
def shop(
    settings: Settings, clock: FixedClock, yookassa: tuple[YooKassa, FakeApi]
) -> Iterator[Client]:
    # On the requesting module's YooKassa: test_yookassa_refunds_once has its own.
    with on_yookassa(settings, clock, yookassa[1]) as client:
        yield client


def notification(status: str = "succeeded") -> bytes:
    event = "payment.succeeded" if status == "succeeded" else "payment.canceled"
    return (
        b'{"type":"notification","event":"'
        + event.encode()
        + b'","object":{"id":"'
        + PAYMENT_ID.encode()
        + b'","status":"'
        + status.encode()
        + b'"}}'
    )


def test_a_notification_is_confirmed_by_fetching_it_back_and_503_while_down(
    shop: Client, yookassa: tuple[YooKassa, FakeApi]
) -> None:
    script, api = yookassa
    account = shop.open_account("ivan", currency="RUB")
    topped = shop.ok(
        shop.post(f"/v1/accounts/{account}/top_ups", {"amount": 1050, "currency": "RUB", **BACK}),
        201,
    )
    assert topped["provider_call"]["state"] == "pending"
    script.payment = {
        "id": PAYMENT_ID,
        "status": "succeeded",
        "paid": True,
        "amount": {"value": "10.50", "currency": "RUB"},
        "created_at": "2026-11-21T12:00:00.000Z",
        "metadata": {"tally_transaction": topped["transaction"]["id"]},
        "test": True,
    }
    path = f"/v1/webhooks/yookassa/{shop.project_id}"
    script.up = False
    with nothing_written(shop.tally):
        problem(shop.http.post(path, content=notification()), 503, "provider_unavailable")
    script.up = True
    disagreeing = notification("canceled")  # the fetched payment says succeeded
    with nothing_written(shop.tally):
        problem(shop.http.post(path, content=disagreeing), 400, "invalid_signature")
    assert shop.ok(shop.http.post(path, content=notification()))["recorded"] == 1
    shop.tally.outbox.drain()
    shop.position = head(shop.tally)
    assert shop.account(account)["ledger_balance"] == 1050
    fetched = [seen.path for seen in api.sent("GET")]
    assert fetched == [f"/v3/payments/{PAYMENT_ID}"] * 3


def confirmed_top_up(shop: Client, script: YooKassa, amount: int = 1050) -> tuple[str, str]:
    """A wallet topped up through YooKassa and confirmed by its notification."""
    account = shop.open_account("olga", currency="RUB")
    body = {"amount": amount, "currency": "RUB", **BACK}
    topped = shop.ok(shop.post(f"/v1/accounts/{account}/top_ups", body), 201)
    script.payment = {
        "id": PAYMENT_ID,
        "status": "succeeded",
        "paid": True,
        "amount": {"value": f"{amount / 100:.2f}", "currency": "RUB"},
        "created_at": "2026-11-21T12:00:00.000Z",
        "metadata": {"tally_transaction": topped["transaction"]["id"]},
        "test": True,
    }
    path = f"/v1/webhooks/yookassa/{shop.project_id}"
    assert shop.ok(shop.http.post(path, content=notification()))["recorded"] == 1
    shop.tally.outbox.drain()
    shop.position = head(shop.tally)
    assert shop.account(account)["ledger_balance"] == amount
    return account, topped["transaction"]["id"]


@pytest.mark.parametrize(
    "forged_id",
    [
        f"../payments/{PAYMENT_ID}",  # issue 10, reproduction 4, as reported
        f"..%2Fpayments%2F{PAYMENT_ID}",
        f"%2E%2E/payments/{PAYMENT_ID}",
        f"{PAYMENT_ID}/../../payments/{PAYMENT_ID}",
        f"{PAYMENT_ID}?x=",
    ],
)
def test_a_forged_refund_notification_naming_a_payment_by_path_reverses_nothing(
    shop: Client, yookassa: tuple[YooKassa, FakeApi], forged_id: str
) -> None:
    script, api = yookassa
    account, txn_id = confirmed_top_up(shop, script)
    asked_before = len(api.requests)
    forged = {"type": "notification", "event": "refund.succeeded", "object": {"id": forged_id}}
    path = f"/v1/webhooks/yookassa/{shop.project_id}"
    with nothing_written(shop.tally):
        refused = problem(shop.http.post(path, json=forged), 400, "invalid_signature")
    assert "not a 36-character YooKassa id" in refused["detail"]
    # The id never reached YooKassa's API, by any path.
    assert api.requests[asked_before:] == []
    shop.tally.outbox.drain()
    shop.position = head(shop.tally)
    assert shop.account(account)["ledger_balance"] == 1050
    assert shop.ok(shop.get(f"/v1/transactions/{txn_id}"))["state"] == "completed"


@pytest.mark.parametrize("body", [b"[" * 60_000, b'{"type":"notification","object":' * 1_500])
def test_a_notification_nested_too_deep_to_read_is_refused_not_a_500(
    shop: Client, yookassa: tuple[YooKassa, FakeApi], body: bytes
) -> None:
    # Anyone can post here; a body nested deeper than the JSON reader goes answered 500.
    path = f"/v1/webhooks/yookassa/{shop.project_id}"
    with nothing_written(shop.tally):
        problem(shop.http.post(path, content=body), 400, "invalid_signature")
    assert yookassa[1].requests == []


REFUND_ID = "2d6a2f3e-0015-5000-9000-1b2c3d4e5f60"


def test_a_refund_made_in_yookassas_dashboard_reverses_its_payment_once(
    shop: Client, yookassa: tuple[YooKassa, FakeApi]
) -> None:
    """The refund keeps no metadata: its payment, fetched back, names the Tally top-up,
    and the payment's refunded_amount is the running total (issue 18)."""
    script, api = yookassa
    account, txn_id = confirmed_top_up(shop, script)
    script.refund = {
        "id": REFUND_ID,
        "payment_id": PAYMENT_ID,
        "status": "succeeded",
        "amount": {"value": "4.00", "currency": "RUB"},
        "created_at": "2026-11-22T09:00:00.000Z",
    }
    script.payment["refunded_amount"] = {"value": "4.00", "currency": "RUB"}
    body = {"type": "notification", "event": "refund.succeeded", "object": {"id": REFUND_ID}}
    path = f"/v1/webhooks/yookassa/{shop.project_id}"
    for _ in range(2):  # a redelivery reverses nothing more
        shop.ok(shop.http.post(path, json=body))
        shop.tally.outbox.drain()
    shop.position = head(shop.tally)
    assert shop.account(account)["ledger_balance"] == 650
    txn = shop.ok(shop.get(f"/v1/transactions/{txn_id}"))
    assert txn["reversed_amount"] == 400
    assert f"/v3/payments/{PAYMENT_ID}" in [seen.path for seen in api.sent("GET")]
