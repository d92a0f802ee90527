"""Webhook delivery (issue 12), end to end: a test-mode project's events go to a real
local receiver that verifies every signature with ``standardwebhooks``, in order, once
each; retries, disabling, redelivery, pruning, and what a failure or a crash inside a
page leaves. The endpoints' own routes are ``test_webhook_endpoints``, the CLI's
``test_webhooks_cli``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from adapters.clock import FixedClock
from tests.e2e.billing import customer
from tests.e2e.conftest import Client
from tests.e2e.webhook_receiver import Receiver
from tests.e2e.webhook_sandbox import (
    deposits,
    endpoint,
    hooks_http,
    hooks_tally,
    next_attempt_at,
    sandbox,
    settle,
)

__all__ = ["hooks_http", "hooks_tally", "sandbox"]  # the fixtures, used by name


def test_every_event_arrives_in_order_once_each_and_verified(
    sandbox: Client, receiver: Receiver
) -> None:
    made = endpoint(sandbox, receiver)
    assert made["secret"].startswith("whsec_")
    assert made["status"] == "enabled"
    assert "secret" not in sandbox.ok(sandbox.get(f"/v1/webhook_endpoints/{made['id']}"))
    customer(sandbox, "ada")
    deposits(sandbox, 5)
    sandbox.tally.webhooks.drain()
    types = [e["type"] for e in receiver.received]
    assert types[0] == "billing.customer.created"
    assert types.count("billing.wallet.deposited") == 5
    positions = [e["position"] for e in receiver.received]
    assert positions == sorted(positions)
    assert len(set(receiver.ids())) == len(positions)
    assert all(
        h["webhook-id"] == e["id"]
        for h, e in zip(receiver.headers, receiver.received, strict=False)
    )
    # Nothing more is sent once everything is acknowledged.
    sandbox.tally.webhooks.drain()
    assert len(receiver.received) == len(positions)
    attempts = sandbox.ok(sandbox.get("/v1/webhook_deliveries"))["data"]
    assert {a["status"] for a in attempts} == {"succeeded"}
    assert [a["event_id"] for a in attempts] == receiver.ids()
    assert all(a["http_status"] == 200 and a["latency_ms"] >= 0 for a in attempts)


def test_a_receiver_down_for_a_while_gets_everything_after_the_retries(
    sandbox: Client, receiver: Receiver, clock: FixedClock
) -> None:
    endpoint(sandbox, receiver)
    receiver.down = True
    deposits(sandbox, 3)
    delivery = sandbox.tally.webhooks
    delivery.drain()
    assert receiver.received == []
    failed = sandbox.ok(sandbox.get("/v1/webhook_deliveries"))["data"]
    assert [(a["status"], a["http_status"]) for a in failed] == [("failed", 503)]
    assert failed[0]["response"] == "down for maintenance"
    delivery.drain()  # not due yet: no second attempt
    assert len(sandbox.ok(sandbox.get("/v1/webhook_deliveries"))["data"]) == 1
    receiver.down = False
    clock.advance(timedelta(seconds=31))
    delivery.drain()
    assert [e["type"] for e in receiver.received] == [
        "billing.wallet.deposited", "billing.transaction.completed"
    ] * 3  # fmt: skip
    first = failed[0]["event_id"]
    assert receiver.ids()[0] == first  # the failed event first, with the same id


def test_a_wrong_secret_is_refused_by_the_receiver_and_retried(
    sandbox: Client, receiver: Receiver, clock: FixedClock
) -> None:
    endpoint(sandbox, receiver)
    right = receiver.secret
    receiver.secret = "whsec_" + "QUJD" * 8  # a receiver configured with another secret
    deposits(sandbox, 1)
    sandbox.tally.webhooks.drain()
    assert receiver.refused == 1
    assert receiver.received == []
    receiver.secret = right
    clock.advance(timedelta(seconds=31))
    sandbox.tally.webhooks.drain()
    assert len(receiver.received) == 2


def test_an_endpoint_failing_for_three_days_is_disabled_with_an_event(
    sandbox: Client, receiver: Receiver, clock: FixedClock
) -> None:
    made = endpoint(sandbox, receiver)
    receiver.down = True
    deposits(sandbox, 1)
    delivery = sandbox.tally.webhooks
    first_failure = clock.now()
    for _ in range(40):
        delivery.drain()
        settle(sandbox.tally)  # the disabling is written by delivery, not by this client
        found = sandbox.ok(sandbox.get(f"/v1/webhook_endpoints/{made['id']}"))
        if found["status"] == "disabled":
            break
        clock.advance(next_attempt_at(sandbox.tally, made["id"]) - clock.now())
    assert found["status"] == "disabled"
    assert found["disabled_reason"].startswith("deliveries failed since")
    assert clock.now() - first_failure >= timedelta(days=3)
    attempts = sandbox.ok(sandbox.get("/v1/webhook_deliveries", limit=100))["data"]
    # 30 s doubling to 12 h: eleven retries take 17 h, five more of 12 h pass 3 days.
    assert len(attempts) == 1 + 11 + 5
    receiver.down = False
    sandbox.ok(sandbox.post(f"/v1/webhook_endpoints/{made['id']}", {"status": "enabled"}))
    delivery.drain()
    assert receiver.received == []  # its next attempt is not due yet
    clock.advance(next_attempt_at(sandbox.tally, made["id"]) - clock.now())
    delivery.drain()
    # Resumed where it stopped.
    assert [e["type"] for e in receiver.received] == [
        "billing.wallet.deposited", "billing.transaction.completed"
    ]  # fmt: skip


def test_redelivery_sends_the_same_event_again_with_the_same_id(
    sandbox: Client, receiver: Receiver
) -> None:
    endpoint(sandbox, receiver)
    customer(sandbox, "ada")
    sandbox.tally.webhooks.drain()
    first = sandbox.ok(sandbox.get("/v1/webhook_deliveries"))["data"][0]
    path = f"/v1/webhook_deliveries/{first['id']}/redeliver"
    again = sandbox.ok(sandbox.post(path, key="r1"), 201)
    assert sandbox.ok(sandbox.post(path, key="r1"), 201) == again  # answered, not sent
    assert again["redelivery"]
    assert again["status"] == "succeeded"
    assert receiver.ids() == [first["event_id"], first["event_id"]]


def test_attempts_past_the_retention_are_pruned_and_the_endpoint_keeps_its_place(
    sandbox: Client, receiver: Receiver, clock: FixedClock
) -> None:
    endpoint(sandbox, receiver)
    delivery = sandbox.tally.webhooks
    assert delivery.retention == timedelta(days=30)  # the setting's default
    deposits(sandbox, 1)
    delivery.drain()
    clock.advance(timedelta(days=29))
    deposits(sandbox, 1)
    delivery.drain()
    assert delivery.prune() == 0  # 29 days old: kept
    clock.advance(timedelta(days=2))
    assert delivery.prune() == 2  # the first deposit's two attempts, 31 days old
    left = sandbox.ok(sandbox.get("/v1/webhook_deliveries"))["data"]
    assert [a["event_id"] for a in left] == receiver.ids()[2:]
    delivery.drain()
    assert len(receiver.received) == 4  # nothing sent again: its tracking row stayed


def test_a_failure_inside_a_page_keeps_the_sends_before_it_and_resumes_at_it(
    sandbox: Client, receiver: Receiver, clock: FixedClock
) -> None:
    endpoint(sandbox, receiver)
    receiver.down_after = 3
    deposits(sandbox, 5)
    delivery = sandbox.tally.webhooks
    delivery.drain()
    attempts = sandbox.ok(sandbox.get("/v1/webhook_deliveries"))["data"]
    assert [a["status"] for a in attempts] == ["succeeded"] * 3 + ["failed"]
    assert [a["event_id"] for a in attempts[:3]] == receiver.ids()
    receiver.down_after = None
    clock.advance(timedelta(seconds=31))
    delivery.drain()
    assert len(receiver.ids()) == len(set(receiver.ids())) == 10  # each once, none lost
    assert receiver.ids()[3] == attempts[3]["event_id"]  # resumed at the failed one
    positions = [e["position"] for e in receiver.received]
    assert positions == sorted(positions)


def test_a_crash_before_a_page_is_recorded_resends_that_page_with_the_same_ids(
    sandbox: Client, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapters import webhook_pages

    endpoint(sandbox, receiver)
    deposits(sandbox, 3)
    delivery = sandbox.tally.webhooks

    def crash(*args: Any) -> None:
        raise RuntimeError("the process died before the page was recorded")

    # A fault, not a stand-in: the sends are real, only the page's commit never happens.
    with monkeypatch.context() as patched:
        patched.setattr(webhook_pages, "write_page", crash)
        with pytest.raises(RuntimeError):
            delivery.drain()
    sent_before = receiver.ids()
    assert len(sent_before) == 6  # sent, but neither the attempts nor the position kept
    assert sandbox.ok(sandbox.get("/v1/webhook_deliveries"))["data"] == []
    delivery.drain()
    assert receiver.ids() == sent_before * 2  # the page again, same ids, same order
    delivery.drain()
    assert len(receiver.ids()) == 12  # recorded this time: nothing more


@pytest.mark.parametrize("closes", ["http/1.0", "close"])
def test_a_receiver_closing_each_connection_gets_every_event_as_delivered(
    sandbox: Client, receiver: Receiver, closes: str
) -> None:
    """A receiver that closes the connection after each answer (HTTP/1.0, or HTTP/1.1 with
    ``Connection: close``), answering more than one read's worth: every event is recorded
    as delivered, none as a connection failure, each on a new connection."""
    receiver.closes = closes
    receiver.reply = b'{"ok": "' + b"x" * 20_000 + b'"}'
    endpoint(sandbox, receiver)
    customer(sandbox, "ada")
    deposits(sandbox, 5)
    sandbox.tally.webhooks.drain()
    attempts = sandbox.ok(sandbox.get("/v1/webhook_deliveries?limit=100"))["data"]
    assert len(attempts) == 1 + 2 * 5  # the customer, then two per deposit
    assert {(a["status"], a["http_status"], a["error"]) for a in attempts} == {
        ("succeeded", 200, "")
    }
    assert sorted(a["event_id"] for a in attempts) == sorted(receiver.ids())
    assert receiver.connections == len(attempts)
