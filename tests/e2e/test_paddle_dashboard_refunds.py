"""A refund made in Paddle's dashboard (issue 18): its adjustment names no Tally call and
carries no Tally references, only the transaction it refunds. The adapter reads that
transaction's references and what Paddle has refunded of it, so the refund reverses the
Tally payment once, by Paddle's running total, however often it is reported; one still
in review reverses nothing, and a Tally refund and a dashboard refund add up."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Client
from tests.e2e.paddle_sandbox import deliver
from tests.e2e.test_paddle_refunds import (
    TXN,
    FakePaddle,
    fake,
    paid_sale,
    refund,
    reversed_amount,
    reviewed,
    shop,
)

__all__ = ["fake", "shop"]  # the fixtures this module's tests use


def dashboard_refund(fake: FakePaddle, n: int, amount: int, status: str) -> dict[str, Any]:
    """An adjustment someone made in Paddle's dashboard: no Tally key in its reason."""
    totals = {"subtotal": str(amount), "tax": "0", "total": str(amount), "currency_code": "EUR"}
    made = {
        "id": f"adj_01hvgf2s84dr6reszzg29zbd{n:02d}",
        "action": "refund",
        "transaction_id": TXN,
        "reason": "customer asked by email",
        "type": "partial",
        "status": status,
        "currency_code": "EUR",
        "totals": totals,
    }
    fake.adjustments.append(made)
    return made


def test_a_paddle_dashboard_refund_reverses_the_payment_once(
    shop: Client, fake: FakePaddle
) -> None:
    txn_id = paid_sale(shop)
    made = dashboard_refund(fake, 1, 400, "pending_approval")
    deliver(shop, "dash1", "adjustment.created", made)
    assert reversed_amount(shop, txn_id) == 0  # in review: nothing moved
    made["status"] = "approved"
    deliver(shop, "dash1ok", "adjustment.updated", made)
    assert reversed_amount(shop, txn_id) == 400
    deliver(shop, "dash1again", "adjustment.updated", made)  # reported again
    assert reversed_amount(shop, txn_id) == 400
    deliver(shop, "dash2", "adjustment.created", dashboard_refund(fake, 2, 300, "approved"))
    assert reversed_amount(shop, txn_id) == 700
    listed = shop.ok(shop.get("/v1/webhook_events"))["data"]
    seen = {e["event_id"][4:].lstrip("0"): e for e in listed}
    assert [e["action"] for e in seen["dash1ok"]["effects"]] == ["transaction_reversed"]
    assert seen["dash1again"]["status"] == "ignored"


def test_a_tally_refund_and_a_dashboard_refund_add_up(shop: Client, fake: FakePaddle) -> None:
    txn_id = paid_sale(shop)
    asked = refund(shop, txn_id, fake)  # 500, held for review
    deliver(shop, "approved", "adjustment.updated", reviewed(asked, "approved"))
    asked.update(reviewed(asked, "approved"))
    assert reversed_amount(shop, txn_id) == 500
    deliver(shop, "dash", "adjustment.created", dashboard_refund(fake, 1, 250, "approved"))
    assert reversed_amount(shop, txn_id) == 750


def test_a_dashboard_refund_reported_before_tallys_approval_does_not_reverse_it_twice(
    shop: Client, fake: FakePaddle
) -> None:
    """Paddle approved Tally's refund (500), then someone refunded 250 in the dashboard;
    the dashboard refund's event comes first. Paddle's running total counts both, so
    its reversal settles Tally's call, and the approval arriving after moves nothing
    (it reversed 500 more before)."""
    txn_id = paid_sale(shop)
    asked = refund(shop, txn_id, fake)  # 500, held for review
    asked.update(reviewed(asked, "approved"))  # approved at Paddle, not yet reported
    deliver(shop, "dash", "adjustment.created", dashboard_refund(fake, 1, 250, "approved"))
    assert reversed_amount(shop, txn_id) == 750
    deliver(shop, "approved", "adjustment.updated", asked)
    assert reversed_amount(shop, txn_id) == 750
    [call] = [
        c for c in shop.ok(shop.get("/v1/provider_calls"))["data"] if c["operation"] == "refund"
    ]
    assert call["refund_status"] == "succeeded"
