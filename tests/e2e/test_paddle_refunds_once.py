"""A refund Tally asks Paddle for, approved at once, reverses its transaction once
whichever of Paddle's ``adjustment.created`` and the outbox's record of Paddle's answer
comes first: the adjustment's reason names the refund call, so the event settles the
call and the answer, recorded after it, changes nothing (and the other way round)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adapters.clock import FixedClock
from adapters.providers.signing import ts_h1_signature
from api.settings import Settings
from tests.e2e.conftest import Client, head
from tests.e2e.paddle_sandbox import SECRET, paddle_shop
from tests.e2e.test_paddle_refunds import FakePaddle, paid_sale, reversed_amount, reviewed
from tests.integration.provider_fake import Reply, Seen


class ApprovingPaddle(FakePaddle):
    """Approves a refund at once, and may report it (``report``) before it answers."""

    def __init__(self) -> None:
        super().__init__()
        self.report: Callable[[dict[str, Any]], None] | None = None

    def __call__(self, seen: Seen) -> Reply:
        reply = super().__call__(seen)
        if not (seen.method == "POST" and seen.path == "/adjustments"):
            return reply
        with self.lock:
            self.adjustments[-1]["status"] = "approved"
            made = dict(self.adjustments[-1])
        report, self.report = self.report, None
        if report is not None:
            report(made)
        return Reply(201, {"data": made})


@pytest.fixture
def fake() -> ApprovingPaddle:
    return ApprovingPaddle()


@pytest.fixture
def shop(settings: Settings, clock: FixedClock, fake: ApprovingPaddle) -> Iterator[Client]:
    with paddle_shop(settings, clock, fake) as (client, _):
        yield client


def created(api: Client, event_id: str, adjustment: dict[str, Any]) -> None:
    """Deliver (signed) ``adjustment.created`` and apply it; a call being made (maybe
    the one it reports) is left to its maker."""
    event_id = "evt_" + event_id.rjust(26, "0")
    notification = {
        "event_id": event_id,
        "event_type": "adjustment.created",
        "occurred_at": "2026-11-21T10:05:00Z",
        "notification_id": "ntf_" + event_id[4:],
        "data": reviewed(adjustment, "approved"),
    }
    body = json.dumps(notification).encode()
    header = ts_h1_signature(SECRET, int(api.tally.clock.now().timestamp()), body)
    headers = {"Paddle-Signature": header, "Content-Type": "application/json"}
    response = api.http.post(f"/v1/webhooks/paddle/{api.project_id}", content=body, headers=headers)
    assert response.status_code == 200, response.text
    api.tally.outbox.drain(wait=False)


def settle(api: Client) -> None:
    api.tally.outbox.drain()
    api.position = head(api.tally)


def test_a_paddle_refund_reported_before_its_answer_is_reversed_once(
    shop: Client, fake: ApprovingPaddle
) -> None:
    txn_id = paid_sale(shop)
    seen: list[int] = []

    def report(adjustment: dict[str, Any]) -> None:
        created(shop, "early", adjustment)
        seen.append(shop.ok(shop.get(f"/v1/transactions/{txn_id}"))["reversed_amount"])

    fake.report = report
    asked = shop.post(f"/v1/transactions/{txn_id}/refunds", {"amount": 500, "reason": "broken"})
    call = shop.ok(asked, 202)["provider_call"]
    settle(shop)
    assert seen == [500]  # the event was applied while the call was made
    assert shop.ok(shop.get(f"/v1/provider_calls/{call['id']}"))["state"] == "succeeded"
    assert reversed_amount(shop, txn_id) == 500

    # The answer first, then the event.
    asked = shop.post(f"/v1/transactions/{txn_id}/refunds", {"amount": 500, "reason": "late"})
    shop.ok(asked, 202)
    settle(shop)
    assert reversed_amount(shop, txn_id) == 1000
    created(shop, "after", fake.adjustments[-1])
    created(shop, "early", fake.adjustments[0])  # the first report, redelivered
    settle(shop)

    assert reversed_amount(shop, txn_id) == 1000
    rows = shop.ok(shop.get("/v1/system_accounts", limit=100))["data"]
    assert {str(r["account"]): int(r["balance"]) for r in rows}["clearing:paddle"] == -500
    trial = shop.ok(shop.get("/v1/reports/trial_balance"))
    assert {c: int(v["total"]) for c, v in trial["currencies"].items()} == {"EUR": 0}
