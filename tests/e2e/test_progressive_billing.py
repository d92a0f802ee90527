"""Progressive billing (issue 13) on a test clock over HTTP: a subscription with usage
thresholds gets an invoice mid-period each time its period's usage charges reach one,
billing only what earlier invoices did not; the renewal bills the rest, so the period's
usage is billed exactly once in all."""

from __future__ import annotations

from typing import Any

from tests.e2e.billing import problem, sandbox
from tests.e2e.conftest import Client
from tests.e2e.test_usage_rating import (
    advance,
    invoices,
    metered_subscription,
    settle,
    usage_of,
    used,
)
from tests.e2e.test_usage_rating import send as send_only

__all__ = ["sandbox"]  # the fixture, used by name


def send(api: Client, *events: dict[str, Any]) -> list[str]:
    """Send, then read after whatever the write recorded (a threshold's invoice: usage
    writes answer no Tally-Position of their own)."""
    statuses = send_only(api, *events)
    api.position = int(api.tally.store.recorder.max_notification_id() or 0)
    return statuses


def tokens_billed(invoice: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(line[1], line[2].get("model", ""), line[5]) for line in usage_of(invoice)
            if line[0] == "tokens"]  # fmt: skip


def test_usage_past_each_threshold_is_invoiced_mid_period_and_the_renewal_bills_the_rest(
    sandbox: Client,
) -> None:
    api = sandbox
    clock_id, sub = metered_subscription(api)  # tokens at 2 each, seats at 500 (max)
    path = f"/v1/subscriptions/{sub['id']}/usage_thresholds"
    answer = api.ok(api.post(path, {"thresholds": [500, 1000]}))
    assert answer["thresholds"] == [500, 1000]
    settle(api)
    advance(api, clock_id, 5)
    assert send(api, used("t1", 1, tokens="150", model="large")) == ["created"]  # 300
    assert len(invoices(api, sub)) == 1  # below 500: nothing yet
    assert send(api, used("t2", 2, tokens="100", model="small")) == ["created"]  # 500
    first, early = invoices(api, sub)
    assert early["description"] == "Usage so far (threshold reached)"
    assert tokens_billed(early) == [("150", "large", 300), ("100", "small", 200)]
    assert send(api, used("t3", 3, tokens="100", model="large")) == ["created"]  # 700
    assert len(invoices(api, sub)) == 2  # the next threshold is 1,000
    assert send(api, used("t4", 4, tokens="160", model="large")) == ["created"]  # 1,020
    later = invoices(api, sub)[2]
    # Only what the first did not bill: 410 - 150 tokens of large; small unchanged.
    assert tokens_billed(later) == [("410", "large", 520)]
    assert send(api, used("t5", 4.5, tokens="5", model="small")) == ["created"]  # 1,030
    assert len(invoices(api, sub)) == 3  # no threshold left: the renewal bills the rest
    preview = api.ok(api.get(f"/v1/subscriptions/{sub['id']}/upcoming_invoice"))
    advance(api, clock_id, 29)  # the first period ends on 28 Feb
    renewal = invoices(api, sub)[-1]
    assert tokens_billed(renewal) == [("410", "large", 0), ("105", "small", 10)]
    assert tokens_billed(preview["upcoming_invoice"]) == tokens_billed(renewal)
    total = sum(amount for i in (early, later, renewal) for _, _, amount in tokens_billed(i))
    assert total == 2 * (410 + 105)  # the whole period's tokens, billed once
    assert first["total"] == 1000


def test_thresholds_must_increase(sandbox: Client) -> None:
    api = sandbox
    _, sub = metered_subscription(api)
    path = f"/v1/subscriptions/{sub['id']}/usage_thresholds"
    problem(api.post(path, {"thresholds": [900, 100]}), 422, "invalid_combination")
    problem(api.post(path, {"thresholds": [0]}), 422, "validation_error")
