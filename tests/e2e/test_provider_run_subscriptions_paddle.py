"""Subscriptions Paddle runs, over HTTP against a fake Paddle (the real adapter; webhooks
signed as Paddle signs them): the create is a transaction whose checkout URL the call
answers (Paddle makes the subscription when it is paid), made once even when retried;
``subscription.created`` links and activates it; a plan change, a cancel at the period
end and its undo are asked of Paddle and come back by webhook; a completed renewal
transaction is fetched and mirrored as a paid Tally invoice; paused at Paddle, it can be
canceled (now) there or through Tally."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from adapters.clock import FixedClock
from api.settings import Settings
from tests.e2e.billing import customer, plan, problem, subscribe
from tests.e2e.conftest import Client, nothing_written
from tests.e2e.paddle_sandbox import CHECKOUT_PAGE, deliver, paddle_shop
from tests.e2e.provider_shop import settle
from tests.integration.provider_fake import FakeApi, Reply, Seen

CUSTOMER = "ctm_01hv6y1jedq4p1n0yqn5ba3ky4"
FIRST = "txn_01hv8wptq8987qeep44cyrewp9"
RENEWAL = "txn_01hv8wptq8987qeep44cyre002"
SUB = "sub_01hv8y5ehszzq0yv20ttx3166y"
PRO, TEAM = "pri_01gsz8x8sawmvhz1pv30nge1ke", "pri_01gsz8z1q1n00f12qt82y31smh"


class FakePaddleBilling:
    """Customers, the first transaction of a subscription, its changes and renewals."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.transactions: list[dict[str, Any]] = []
        self.fail_after_create = False

    def __call__(self, seen: Seen) -> Reply:
        with self.lock:
            if (seen.method, seen.path) == ("POST", "/customers"):
                return Reply(201, {"data": {"id": CUSTOMER}})
            if (seen.method, seen.path) == ("GET", "/transactions"):
                return Reply(200, {"data": self.transactions, "meta": {}})
            if (seen.method, seen.path) == ("POST", "/transactions"):
                made = {**seen.json(), "id": FIRST, "status": "ready"}
                # As Paddle answers for an account with no default payment link: the
                # page the transaction names, else none.
                page = (seen.json().get("checkout") or {}).get("url")
                made["checkout"] = {"url": f"{page}?_ptxn={FIRST}" if page else None}
                self.transactions.append(made)
                if self.fail_after_create:  # made, but the answer is lost
                    return Reply(503, {"error": {"code": "internal_error", "detail": "later"}})
                return Reply(201, {"data": made})
            if (seen.method, seen.path) == ("GET", f"/transactions/{RENEWAL}"):
                return Reply(200, {"data": renewal()})
            if seen.path.startswith(f"/subscriptions/{SUB}"):
                return Reply(200, {"data": {"id": SUB}})
            return Reply(404, {"error": {"code": "not_found", "detail": seen.path}})


def renewal() -> dict[str, Any]:
    item = {"price_id": TEAM, "quantity": 2, "totals": {"subtotal": "6000"}}
    return {
        "id": RENEWAL,
        "status": "completed",
        "subscription_id": SUB,
        "currency_code": "EUR",
        "invoice_number": "PDL-0007",
        "billing_period": {
            "starts_at": "2026-12-21T10:00:00Z",
            "ends_at": "2027-01-21T10:00:00Z",
        },
        "details": {
            "line_items": [{**item, "product": {"name": "Team"}}],
            "totals": {
                "subtotal": "6000",
                "tax": "1140",
                "total": "7140",
                "grand_total": "7140",
                "currency_code": "EUR",
            },
        },
        "payments": [],
    }


def subscription(sub_id: str, price: str, quantity: int, cancel: bool = False) -> dict[str, Any]:
    return {
        "id": SUB,
        "status": "active",
        "customer_id": CUSTOMER,
        "currency_code": "EUR",
        "custom_data": {"tally_subscription": sub_id},
        "items": [{"price": {"id": price}, "quantity": quantity}],
        "current_billing_period": {
            "starts_at": "2026-11-21T10:00:00Z",
            "ends_at": "2026-12-21T10:00:00Z",
        },
        "scheduled_change": {"action": "cancel"} if cancel else None,
    }


@pytest.fixture
def fake() -> FakePaddleBilling:
    return FakePaddleBilling()


@pytest.fixture
def shop(
    settings: Settings, clock: FixedClock, fake: FakePaddleBilling
) -> Iterator[tuple[Client, FakeApi]]:
    with paddle_shop(settings, clock, fake) as made:
        made[0].ok(made[0].post("/v1/subscription_runner", {"run_by": "provider"}))
        yield made


def mapped(api: Client, code: str, amount: int, paddle_price: str) -> str:
    price_id = plan(api, code, amount)
    ids = {"provider_price_ids": {"paddle": paddle_price}}
    api.ok(api.post(f"/v1/prices/{price_id}/provider_price_ids", ids))
    return price_id


def started(api: Client) -> tuple[str, str]:
    ada = customer(api, "ada", email="ada@example.com")
    created = subscribe(api, ada, mapped(api, "PRO", 1000, PRO))
    settle(api)
    deliver(api, "created", "subscription.created", subscription(created["id"], PRO, 1))
    return created["id"], mapped(api, "TEAM", 3000, TEAM)


def test_paddle_runs_a_subscription_from_its_first_transaction_to_a_cancel_undone(
    shop: tuple[Client, FakeApi],
) -> None:
    api, paddle = shop
    sub_id, team = started(api)
    [first] = paddle.sent("POST", "/transactions")
    body = first.json()
    assert (body["customer_id"], body["items"]) == (CUSTOMER, [{"price_id": PRO, "quantity": 1}])
    assert body["custom_data"]["tally_subscription"] == sub_id
    calls = api.ok(api.get("/v1/provider_calls", limit=100))["data"]
    [call] = [c for c in calls if c["operation"] == "create_subscription"]
    assert (call["state"], call["url"]) == ("succeeded", f"{CHECKOUT_PAGE}?_ptxn={FIRST}")
    sub = api.ok(api.get(f"/v1/subscriptions/{sub_id}"))
    assert (sub["status"], sub["provider_subscription"]) == ("active", SUB)

    change = {"items": [{"price_id": team, "quantity": 2}], "proration": "prorate"}
    api.ok(api.post(f"/v1/subscriptions/{sub_id}/items", change))
    [patch] = paddle.sent("PATCH", f"/subscriptions/{SUB}")
    assert patch.json() == {
        "items": [{"price_id": TEAM, "quantity": 2}],
        "proration_billing_mode": "prorated_immediately",
    }
    deliver(api, "plan", "subscription.updated", subscription(sub_id, TEAM, 2))
    assert api.ok(api.get(f"/v1/subscriptions/{sub_id}"))["items"][0]["price_id"] == team

    api.ok(api.post(f"/v1/subscriptions/{sub_id}/cancel", {"at_period_end": True}))
    [cancel] = paddle.sent("POST", f"/subscriptions/{SUB}/cancel")
    assert cancel.json() == {"effective_from": "next_billing_period"}
    deliver(api, "ending", "subscription.updated", subscription(sub_id, TEAM, 2, cancel=True))
    assert api.ok(api.get(f"/v1/subscriptions/{sub_id}"))["cancel_at_period_end"] is True
    api.ok(api.post(f"/v1/subscriptions/{sub_id}/undo_cancel", {}))
    undo = paddle.sent("PATCH", f"/subscriptions/{SUB}")[1]
    assert undo.json() == {"scheduled_change": None}
    deliver(api, "kept", "subscription.updated", subscription(sub_id, TEAM, 2))
    assert api.ok(api.get(f"/v1/subscriptions/{sub_id}"))["cancel_at_period_end"] is False
    settle(api)
    assert len(paddle.sent("POST", "/transactions")) == 1
    assert len(paddle.sent("PATCH")) == 2


def test_a_completed_paddle_renewal_is_mirrored_as_a_paid_invoice(
    shop: tuple[Client, FakeApi],
) -> None:
    api, paddle = shop
    sub_id, _ = started(api)
    completed = {**renewal(), "custom_data": {"tally_subscription": sub_id}}
    deliver(api, "renewed", "transaction.completed", completed)
    deliver(api, "renewedpaid", "transaction.paid", completed)  # the same transaction
    assert len(paddle.sent("GET", f"/transactions/{RENEWAL}")) == 1
    [invoice] = api.ok(api.get("/v1/invoices", subscription_id=sub_id))["data"]
    assert (invoice["status"], invoice["total"], invoice["amount_paid"]) == ("paid", 7140, 7140)
    assert invoice["payments"][0]["reference"] == RENEWAL
    assert [line["description"] for line in invoice["lines"]] == [
        "Team, monthly",  # named as Tally names the price Paddle's maps to
        "Tax and discounts by paddle",
    ]


def test_a_retried_create_finds_the_transaction_paddle_made_without_answering(
    shop: tuple[Client, FakeApi], fake: FakePaddleBilling, clock: FixedClock
) -> None:
    api, paddle = shop
    fake.fail_after_create = True
    ada = customer(api, "ada", email="ada@example.com")
    created = subscribe(api, ada, mapped(api, "PRO", 1000, PRO))
    settle(api)
    calls = api.ok(api.get("/v1/provider_calls", limit=100))["data"]
    [call] = [c for c in calls if c["operation"] == "create_subscription"]
    assert (call["state"], call["error_code"]) == ("pending", "provider_unavailable")
    fake.fail_after_create = False
    clock.advance(timedelta(seconds=5))
    settle(api)
    made = api.ok(api.get(f"/v1/provider_calls/{call['id']}"))
    assert (made["state"], made["attempts"]) == ("succeeded", 2)
    assert len(paddle.sent("POST", "/transactions")) == 1  # found by its key, not made again
    assert created["run_by"] == "provider"


def test_a_subscription_paused_and_resumed_at_paddle_is_paused_and_resumed_in_tally(
    shop: tuple[Client, FakeApi],
) -> None:
    api, paddle = shop
    sub_id, _ = started(api)
    # Paddle reports a paused subscription with no current billing period.
    paused = {**subscription(sub_id, PRO, 1), "status": "paused", "current_billing_period": None}
    deliver(api, "paused", "subscription.paused", paused)
    assert api.ok(api.get(f"/v1/subscriptions/{sub_id}"))["status"] == "paused"
    resumed = subscription(sub_id, PRO, 1)
    resumed["current_billing_period"] = {
        "starts_at": "2026-12-02T08:00:00Z",
        "ends_at": "2027-01-02T08:00:00Z",
    }
    deliver(api, "resumed", "subscription.resumed", resumed)
    sub = api.ok(api.get(f"/v1/subscriptions/{sub_id}"))
    assert (sub["status"], sub["current_period_start"]) == ("active", "2026-12-02T08:00:00.000000Z")
    assert sub["next_due_at"] is None  # Paddle still runs it
    assert paddle.sent("POST", "/subscriptions") == []  # mirrored, nothing asked back


def paused_at_paddle(api: Client) -> tuple[str, dict[str, Any]]:
    sub_id, _ = started(api)
    paused = {**subscription(sub_id, PRO, 1), "status": "paused", "current_billing_period": None}
    deliver(api, "paused", "subscription.paused", paused)
    return sub_id, paused


def test_a_subscription_canceled_at_paddle_while_paused_is_canceled_in_tally(
    shop: tuple[Client, FakeApi],
) -> None:
    api, paddle = shop
    sub_id, paused = paused_at_paddle(api)
    canceled = {**paused, "status": "canceled", "canceled_at": "2026-12-01T09:00:00Z"}
    deliver(api, "canceled", "subscription.canceled", canceled, at="2026-12-01T09:00:00Z")
    sub = api.ok(api.get(f"/v1/subscriptions/{sub_id}"))
    assert (sub["status"], sub["next_due_at"]) == ("canceled", None)
    assert api.ok(api.get("/v1/invoices", subscription_id=sub_id))["data"] == []
    assert paddle.sent("POST", f"/subscriptions/{SUB}/cancel") == []  # mirrored, not asked


def test_a_subscription_paused_at_paddle_is_canceled_through_tally_only_now(
    shop: tuple[Client, FakeApi],
) -> None:
    api, paddle = shop
    sub_id, paused = paused_at_paddle(api)
    with nothing_written(api.tally):  # no period runs while paused: no end to cancel at
        later = api.post(f"/v1/subscriptions/{sub_id}/cancel", {"at_period_end": True})
    problem(later, 409, "invalid_transition")
    api.ok(api.post(f"/v1/subscriptions/{sub_id}/cancel", {}))
    settle(api)
    [cancel] = paddle.sent("POST", f"/subscriptions/{SUB}/cancel")
    assert cancel.json() == {"effective_from": "immediately"}
    assert api.ok(api.get(f"/v1/subscriptions/{sub_id}"))["status"] == "paused"  # until told
    canceled = {**paused, "status": "canceled", "canceled_at": "2026-12-01T09:00:00Z"}
    deliver(api, "canceled", "subscription.canceled", canceled, at="2026-12-01T09:00:00Z")
    assert api.ok(api.get(f"/v1/subscriptions/{sub_id}"))["status"] == "canceled"
    assert len(paddle.sent("POST", f"/subscriptions/{SUB}/cancel")) == 1  # asked once
