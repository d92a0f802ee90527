"""A refund Tally asks YooKassa for reverses its top-up once, whichever of YooKassa's
``refund.succeeded`` and the outbox's record of YooKassa's answer comes first: the
refund keeps Tally's references in its metadata (the call and the transaction), so its
notification, fetched back, settles the call, and the answer recorded after it changes
nothing (and the other way round)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Client, head
from tests.e2e.test_webhooks_yookassa import (
    PAYMENT_ID,
    YooKassa,
    confirmed_top_up,
    shop,
)
from tests.integration.provider_fake import FakeApi, Reply, Seen, fake_api

# test_webhooks_yookassa's project, on this module's YooKassa (its yookassa fixture).
__all__ = ["shop"]  # the fixture, used by name


class Refunding(YooKassa):
    """Also refunds (``POST /v3/refunds``, once per idempotency key, succeeded at once,
    the payment's ``refunded_amount`` growing), and may report a refund (``report``)
    before it answers."""

    def __init__(self) -> None:
        super().__init__()
        self.refunds: dict[str, dict[str, Any]] = {}  # by idempotency key
        self.report: Callable[[str], None] | None = None

    def __call__(self, seen: Seen) -> Reply:
        if seen.method == "GET" and seen.path == "/v3/refunds":
            asked = seen.query.get("payment_id", [])
            items = [r for r in self.refunds.values() if r["payment_id"] in asked]
            return Reply(200, {"type": "list", "items": items})
        if seen.method == "GET" and seen.path.startswith("/v3/refunds/"):
            found = [r for r in self.refunds.values() if r["id"] == seen.path[12:]]
            return Reply(200, found[0]) if found else Reply(404, {"type": "error"})
        if not (seen.method == "POST" and seen.path == "/v3/refunds"):
            return super().__call__(seen)
        key = seen.headers.get("idempotence-key", "")
        if key not in self.refunds:
            asked = seen.json()
            n = len(self.refunds) + 1
            self.refunds[key] = {
                "id": f"2d6a2f3e-0015-5000-9000-1b2c3d4e5f{n:02d}",
                "payment_id": asked["payment_id"],
                "status": "succeeded",
                "amount": asked["amount"],
                "created_at": "2026-11-22T09:00:00.000Z",
                "metadata": asked.get("metadata", {}),
            }
            self.recount()
            report, self.report = self.report, None
            if report is not None:
                report(self.refunds[key]["id"])
        return Reply(200, self.refunds[key])

    def recount(self) -> None:
        """The payment's ``refunded_amount``: every refund made of it."""
        total = sum(round(float(r["amount"]["value"]) * 100) for r in self.refunds.values())
        self.payment["refunded_amount"] = {"value": f"{total / 100:.2f}", "currency": "RUB"}


@pytest.fixture
def yookassa() -> Iterator[tuple[Refunding, FakeApi]]:
    script = Refunding()
    with fake_api(script) as api:
        yield script, api


def succeeded(shop: Client, refund_id: str) -> None:
    """Deliver ``refund.succeeded`` and apply it; a call being made (maybe the one it
    reports) is left to its maker."""
    body = {"type": "notification", "event": "refund.succeeded", "object": {"id": refund_id}}
    shop.ok(shop.http.post(f"/v1/webhooks/yookassa/{shop.project_id}", json=body))
    shop.tally.outbox.drain(wait=False)


def settle(shop: Client) -> None:
    shop.tally.outbox.drain()
    shop.position = head(shop.tally)


def test_a_yookassa_refund_reported_before_its_answer_is_reversed_once(
    shop: Client, yookassa: tuple[Refunding, FakeApi]
) -> None:
    script, _ = yookassa
    account, txn_id = confirmed_top_up(shop, script)
    seen: list[int] = []

    def report(refund_id: str) -> None:
        succeeded(shop, refund_id)
        seen.append(shop.ok(shop.get(f"/v1/transactions/{txn_id}"))["reversed_amount"])

    script.report = report
    asked = shop.post(f"/v1/transactions/{txn_id}/refunds", {"amount": 400})
    call = shop.ok(asked, 202)["provider_call"]
    settle(shop)
    assert seen == [400]  # the notification was applied while the call was made
    assert shop.ok(shop.get(f"/v1/provider_calls/{call['id']}"))["state"] == "succeeded"
    assert shop.ok(shop.get(f"/v1/transactions/{txn_id}"))["reversed_amount"] == 400

    # The answer first, then the notification (and the first one again).
    shop.ok(shop.post(f"/v1/transactions/{txn_id}/refunds", {"amount": 250}), 202)
    settle(shop)
    for refund in list(script.refunds.values())[::-1]:
        succeeded(shop, refund["id"])
    settle(shop)

    assert shop.ok(shop.get(f"/v1/transactions/{txn_id}"))["reversed_amount"] == 650
    assert shop.account(account)["ledger_balance"] == 400
    assert script.payment["id"] == PAYMENT_ID
    rows = shop.ok(shop.get("/v1/system_accounts", limit=100))["data"]
    assert {str(r["account"]): int(r["balance"]) for r in rows}["clearing:yookassa"] == -400
    trial = shop.ok(shop.get("/v1/reports/trial_balance"))
    assert {c: int(v["total"]) for c, v in trial["currencies"].items()} == {"RUB": 0}


def test_a_dashboard_refund_reported_before_tallys_answer_does_not_reverse_it_twice(
    shop: Client, yookassa: tuple[Refunding, FakeApi]
) -> None:
    """Tally's refund (400) succeeded at YooKassa and someone refunded 250 in the
    dashboard; the dashboard refund's notification is applied before Tally has the
    answer. The payment's refunded_amount counts both, and the payment's refunds name
    Tally's call, so the reversal by the total settles it and the answer moves nothing
    more (it reversed 400 more before)."""
    script, _ = yookassa
    account, txn_id = confirmed_top_up(shop, script)
    seen: list[int] = []

    def report(_: str) -> None:
        dashboard = {
            "id": "2d6a2f3e-0015-5000-9000-1b2c3d4e5fd0",
            "payment_id": PAYMENT_ID,
            "status": "succeeded",
            "amount": {"value": "2.50", "currency": "RUB"},
            "created_at": "2026-11-22T09:01:00.000Z",
        }
        script.refunds["dashboard"] = dashboard
        script.recount()
        succeeded(shop, dashboard["id"])
        seen.append(shop.ok(shop.get(f"/v1/transactions/{txn_id}"))["reversed_amount"])

    script.report = report
    asked = shop.post(f"/v1/transactions/{txn_id}/refunds", {"amount": 400})
    call = shop.ok(asked, 202)["provider_call"]
    settle(shop)

    assert seen == [650]
    assert shop.ok(shop.get(f"/v1/provider_calls/{call['id']}"))["state"] == "succeeded"
    assert shop.ok(shop.get(f"/v1/transactions/{txn_id}"))["reversed_amount"] == 650
    assert shop.account(account)["ledger_balance"] == 400
