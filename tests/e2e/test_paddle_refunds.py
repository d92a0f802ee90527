"""A project on Paddle (the real adapter against a fake Paddle on 127.0.0.1, webhooks
signed as Paddle signs them), issue 18 items 7 and 10: a checkout whose line name or
currency Paddle would refuse is refused when it arrives, with nothing written; a refund
Paddle holds for review (``pending_approval``) reverses nothing until
``adjustment.updated`` approves it, then exactly once; a rejected one never."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from adapters.clock import FixedClock
from api.checkout_sweep import sweep_checkouts
from api.settings import Settings
from tests.e2e.billing import problem
from tests.e2e.conftest import Client, head, nothing_written
from tests.e2e.paddle_sandbox import deliver, paddle_shop
from tests.integration.provider_fake import Reply, Seen

TXN = "txn_01hv8wptq8987qeep44cyrewp9"
LINE_ID = "txnitm_01hv8wt98jahpbm1t1tzr06z6n"
BACK = {"success_url": "https://shop.example/paid", "cancel_url": "https://shop.example/back"}


class FakePaddle:
    """Checkout transactions and refund adjustments, which it holds for review."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.adjustments: list[dict[str, Any]] = []
        self.paid = False  # whether the checkout's transaction was paid at Paddle
        self.cancels = 0  # cancellations asked for
        self.custom_data: dict[str, Any] = {}  # the checkout transaction's, as made

    def __call__(self, seen: Seen) -> Reply:
        with self.lock:
            if seen.method == "POST" and seen.path == "/transactions":
                self.custom_data = seen.json()["custom_data"]
                url = f"https://pay.example/checkout?_ptxn={TXN}"
                return Reply(201, {"data": {"id": TXN, "checkout": {"url": url}}})
            if seen.method == "GET" and seen.path == f"/transactions/{TXN}":
                details = {"line_items": [{"id": LINE_ID}]}
                made = {"id": TXN, "custom_data": self.custom_data, "details": details}
                return Reply(200, {"data": made})
            if seen.method == "PATCH" and seen.path == f"/transactions/{TXN}":
                self.cancels += 1
                if self.paid:
                    error = {"code": "transaction_immutable", "detail": "completed"}
                    return Reply(400, {"error": {"type": "request_error", **error}})
                return Reply(200, {"data": {"id": TXN, "status": seen.json()["status"]}})
            if seen.method == "GET" and seen.path == "/adjustments":
                return Reply(200, {"data": self.adjustments, "meta": {}})
            if seen.method == "POST" and seen.path == "/adjustments":
                n = len(self.adjustments)
                made = {"id": f"adj_01hvgf2s84dr6reszzg29zbv{n:02d}", **seen.json()}
                made["status"] = "pending_approval"
                self.adjustments.append(made)
                return Reply(201, {"data": made})
            return Reply(404, {"error": {"code": "not_found", "detail": seen.path}})


@pytest.fixture
def fake() -> FakePaddle:
    return FakePaddle()


@pytest.fixture
def shop(settings: Settings, clock: FixedClock, fake: FakePaddle) -> Iterator[Client]:
    with paddle_shop(settings, clock, fake) as (client, _):
        yield client


def paid_sale(shop: Client) -> str:
    """An item checkout paid at Paddle: its Tally transaction, completed."""
    line = {"name": "Ebook", "unit_amount": 1500, "currency": "EUR"}
    sold = shop.ok(shop.post("/v1/checkout/item", {"line": line, **BACK}), 201)
    txn_id = str(sold["transaction"]["id"])
    totals = {"total": "1500", "grand_total": "1500", "currency_code": "EUR"}
    deliver(
        shop,
        "paid",
        "transaction.completed",
        {
            "id": TXN,
            "status": "completed",
            "currency_code": "EUR",
            "custom_data": {"tally_transaction": txn_id},
            "details": {"totals": totals},
            "payments": [],
        },
    )
    assert shop.ok(shop.get(f"/v1/transactions/{txn_id}"))["state"] == "completed"
    return txn_id


def refund(shop: Client, txn_id: str, fake: FakePaddle) -> dict[str, Any]:
    """Ask for a refund of 500; Paddle holds it for review. Its adjustment as made."""
    asked = shop.post(f"/v1/transactions/{txn_id}/refunds", {"amount": 500, "reason": "broken"})
    shop.ok(asked, 202)
    shop.tally.outbox.drain()
    shop.position = head(shop.tally)
    [adjustment] = fake.adjustments
    return adjustment


def reviewed(adjustment: dict[str, Any], status: str) -> dict[str, Any]:
    totals = {"subtotal": "500", "tax": "0", "total": "500", "currency_code": "EUR"}
    return {**adjustment, "status": status, "currency_code": "EUR", "totals": totals}


def refund_calls(shop: Client) -> list[dict[str, Any]]:
    calls = shop.ok(shop.get("/v1/provider_calls", limit=100))["data"]
    return [call for call in calls if call["operation"] == "refund"]


def reversed_amount(shop: Client, txn_id: str) -> int:
    """What the ledger reversed, after checking the payment object says the same."""
    [payment] = shop.ok(shop.get("/v1/payments"))["data"]
    reversed_by = int(shop.ok(shop.get(f"/v1/transactions/{txn_id}"))["reversed_amount"])
    assert payment["amount_refunded"] == reversed_by
    return reversed_by


def test_a_refund_held_for_review_reverses_once_when_paddle_approves(
    shop: Client, fake: FakePaddle
) -> None:
    txn_id = paid_sale(shop)
    adjustment = refund(shop, txn_id, fake)
    assert adjustment["reason"].startswith("broken [tally:")
    assert reversed_amount(shop, txn_id) == 0  # pending_approval: no money moved yet
    [call] = refund_calls(shop)
    assert call["refund_status"] == "pending_approval"
    deliver(shop, "approved", "adjustment.updated", reviewed(adjustment, "approved"))
    assert reversed_amount(shop, txn_id) == 500
    call = shop.ok(shop.get(f"/v1/provider_calls/{call['id']}"))
    assert call["refund_status"] == "succeeded"
    # The approval reported again (another event) changes nothing.
    deliver(shop, "again", "adjustment.created", reviewed(adjustment, "approved"))
    assert reversed_amount(shop, txn_id) == 500
    seen = {e["provider_type"]: e for e in shop.ok(shop.get("/v1/webhook_events"))["data"]}
    approval, again = seen["adjustment.updated"], seen["adjustment.created"]
    assert [e["action"] for e in approval["effects"]] == ["transaction_reversed"]
    assert again["status"] == "ignored"


def test_a_refund_paddle_rejects_never_reverses(shop: Client, fake: FakePaddle) -> None:
    txn_id = paid_sale(shop)
    adjustment = refund(shop, txn_id, fake)
    deliver(shop, "rejected", "adjustment.updated", reviewed(adjustment, "rejected"))
    assert reversed_amount(shop, txn_id) == 0
    seen = shop.ok(shop.get("/v1/webhook_events"))["data"]
    [rejection] = [
        e for e in seen if e["effects"] and e["provider_type"] != "transaction.completed"
    ]
    assert [e["action"] for e in rejection["effects"]] == ["refund_rejected"]
    [call] = refund_calls(shop)
    assert (call["state"], call["refund_status"]) == ("succeeded", "rejected")
    # A late approval of the same adjustment cannot undo the recorded rejection.
    deliver(shop, "late", "adjustment.updated", reviewed(adjustment, "approved"))
    assert reversed_amount(shop, txn_id) == 0


def test_an_approval_naming_the_call_but_another_payment_changes_nothing(
    shop: Client, fake: FakePaddle
) -> None:
    txn_id = paid_sale(shop)
    adjustment = refund(shop, txn_id, fake)
    forged = {**reviewed(adjustment, "approved"), "transaction_id": TXN[:-4] + "zzzz"}
    deliver(shop, "other", "adjustment.updated", forged)
    assert reversed_amount(shop, txn_id) == 0


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"name": "E", "unit_amount": 1500, "currency": "EUR"}, "lines[0].name"),
        ({"name": "E" * 151, "unit_amount": 1500, "currency": "EUR"}, "lines[0].name"),
        ({"name": "Ebook", "unit_amount": 1500, "currency": "KZT"}, "currency"),
    ],
)
def test_a_checkout_paddle_would_refuse_is_refused_when_it_arrives(
    shop: Client, line: dict[str, Any], field: str
) -> None:
    with nothing_written(shop.tally):
        response = shop.post("/v1/checkout/item", {"line": line, **BACK})
    found = problem(response, 422, "provider_limit_exceeded")
    assert found["field"] == field


def test_a_paddle_checkout_declined_then_canceled_fails_its_sale(shop: Client) -> None:
    # A declined card leaves Paddle's checkout open for another (the sale stays
    # processing); Paddle's transaction.canceled is the checkout's end. It used to be
    # recorded as unknown, and the sale stayed processing for ever.
    line = {"name": "Ebook", "unit_amount": 1500, "currency": "EUR"}
    sold = shop.ok(shop.post("/v1/checkout/item", {"line": line, **BACK}), 201)
    txn_id = str(sold["transaction"]["id"])
    data = {
        "id": TXN,
        "currency_code": "EUR",
        "custom_data": {"tally_transaction": txn_id},
        "details": {"totals": {"total": "1500", "currency_code": "EUR"}},
    }
    declined = [{"status": "error", "error_code": "declined", "payment_method_id": None}]
    deliver(
        shop,
        "declined",
        "transaction.payment_failed",
        {**data, "status": "ready", "payments": declined},
    )
    assert shop.ok(shop.get(f"/v1/transactions/{txn_id}"))["state"] == "processing"
    deliver(
        shop,
        "canceled",
        "transaction.canceled",
        {**data, "status": "canceled", "payments": declined},
    )
    ended = shop.ok(shop.get(f"/v1/transactions/{txn_id}"))
    assert ended["state"] == "failed"
    assert "canceled" in ended["failure_reason"]


def declined_sale(shop: Client) -> tuple[str, dict[str, Any]]:
    """An item checkout whose card Paddle declined: the page stays open, the sale
    processing. Its transaction id and Paddle's transaction."""
    line = {"name": "Ebook", "unit_amount": 1500, "currency": "EUR"}
    sold = shop.ok(shop.post("/v1/checkout/item", {"line": line, **BACK}), 201)
    txn_id = str(sold["transaction"]["id"])
    data = {
        "id": TXN,
        "status": "ready",
        "currency_code": "EUR",
        "custom_data": {"tally_transaction": txn_id},
        "details": {"totals": {"total": "1500", "currency_code": "EUR"}},
        "payments": [{"status": "error", "error_code": "declined"}],
    }
    deliver(shop, "declined", "transaction.payment_failed", data)
    assert shop.ok(shop.get(f"/v1/transactions/{txn_id}"))["state"] == "processing"
    return txn_id, data


def sweep(shop: Client) -> None:
    sweep_checkouts(shop.tally)
    shop.tally.outbox.drain()
    shop.position = head(shop.tally)


def test_a_paddle_checkout_nobody_finished_is_cancelled_there_then_failed(
    shop: Client, fake: FakePaddle, clock: FixedClock
) -> None:
    # Paddle never ends a ready transaction: a declined card then an abandoned page left
    # the sale processing for ever. After CHECKOUT_EXPIRY, Tally cancels the transaction
    # at Paddle (so nothing can be paid on it) and only then fails the sale.
    txn_id, _ = declined_sale(shop)
    clock.advance(timedelta(hours=23))
    sweep(shop)
    assert fake.cancels == 0  # not yet expired
    clock.advance(timedelta(hours=2))
    sweep(shop)
    sweep(shop)  # asked once
    assert fake.cancels == 1
    ended = shop.ok(shop.get(f"/v1/transactions/{txn_id}"))
    assert (ended["state"], ended["failure_reason"]) == ("failed", "checkout_expired")


def test_a_paddle_checkout_paid_before_its_expiry_is_left_to_its_payment(
    shop: Client, fake: FakePaddle, clock: FixedClock
) -> None:
    # Paid at Paddle, its event not here yet: Paddle refuses the cancellation, and the
    # sale waits for its payment's event, which completes it.
    txn_id, data = declined_sale(shop)
    fake.paid = True
    clock.advance(timedelta(hours=25))
    sweep(shop)
    assert fake.cancels == 1
    assert shop.ok(shop.get(f"/v1/transactions/{txn_id}"))["state"] == "processing"
    deliver(shop, "paid", "transaction.completed", {**data, "status": "completed", "payments": []})
    assert shop.ok(shop.get(f"/v1/transactions/{txn_id}"))["state"] == "completed"
