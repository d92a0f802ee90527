"""Usage of a subscription that stops billing mid-period (issue 13 gap): canceled at
once, its period's usage so far is billed on a final invoice as it ends; paused, the
usage before the pause is billed then, and after it resumes its renewals bill only what
came since the pause (never the usage before it again); canceled while paused, it bills
nothing more."""

from __future__ import annotations

from typing import Any

from tests.e2e.billing import sandbox
from tests.e2e.conftest import Client
from tests.e2e.test_usage_rating import (
    advance,
    invoices,
    metered_subscription,
    send,
    usage_of,
    used,
)

__all__ = ["sandbox"]  # the fixture, used by name


def usage_lines(invoice: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(line[0], line[1], line[5]) for line in usage_of(invoice)]


def test_a_subscription_canceled_at_once_is_billed_its_usage_so_far(sandbox: Client) -> None:
    api = sandbox
    clock_id, sub = metered_subscription(api)
    advance(api, clock_id, 4)
    assert send(api, used("t1", 1, tokens="100", model="large"),
                used("s1", 2, name="seats", n="4")) == ["created"] * 2  # fmt: skip
    advance(api, clock_id, 5)
    api.ok(api.post(f"/v1/subscriptions/{sub['id']}/cancel", {"at_period_end": False}))
    first, final = invoices(api, sub)
    assert final["description"] == "Usage of the last period"
    assert usage_lines(final) == [("tokens", "100", 200), ("seats", "4", 2000)]
    assert final["period_start"] == first["period_start"]
    assert final["period_end"] < first["period_end"]  # the period up to the cancellation
    advance(api, clock_id, 40)  # nothing more is billed
    assert len(invoices(api, sub)) == 2


def test_a_paused_subscription_bills_the_usage_before_the_pause_once(sandbox: Client) -> None:
    api = sandbox
    clock_id, sub = metered_subscription(api)
    advance(api, clock_id, 4)
    assert send(api, used("t1", 1, tokens="100", model="large")) == ["created"]
    advance(api, clock_id, 5)
    api.ok(api.post(f"/v1/subscriptions/{sub['id']}/pause", {}))
    first, before_pause = invoices(api, sub)
    assert before_pause["description"] == "Usage before the pause"
    assert before_pause["period_start"] == first["period_start"]
    assert usage_lines(before_pause) == [("tokens", "100", 200)]
    advance(api, clock_id, 10)
    api.ok(api.post(f"/v1/subscriptions/{sub['id']}/resume", {}))
    advance(api, clock_id, 12)
    assert send(api, used("t2", 11, tokens="7", model="large")) == ["created"]
    preview = api.ok(api.get(f"/v1/subscriptions/{sub['id']}/upcoming_invoice"))
    assert usage_lines(preview["upcoming_invoice"]) == [("tokens", "7", 14)]  # as billed
    current = api.ok(api.get(f"/v1/subscriptions/{sub['id']}/usage"))
    assert current["period_start"] == before_pause["period_end"]  # from the pause on
    tokens = next(m for m in current["meters"] if m["code"] == "tokens")
    assert [g["value"] for g in tokens["groups"]] == ["7"]
    advance(api, clock_id, 45)  # the first renewal after the resumption (10 + a month)
    billed = [line for i in invoices(api, sub)[2:] for line in usage_lines(i)]
    assert billed == [("tokens", "7", 14)]  # since the pause only: not the 100 again


def test_a_paused_subscription_canceled_bills_no_usage_again(sandbox: Client) -> None:
    api = sandbox
    clock_id, sub = metered_subscription(api)
    advance(api, clock_id, 4)
    assert send(api, used("t1", 1, tokens="100", model="large")) == ["created"]
    advance(api, clock_id, 5)
    api.ok(api.post(f"/v1/subscriptions/{sub['id']}/pause", {}))
    advance(api, clock_id, 7)
    assert send(api, used("t2", 6, tokens="9", model="large")) == ["created"]  # while paused
    canceled = api.ok(api.post(f"/v1/subscriptions/{sub['id']}/cancel", {}))["subscription"]
    assert canceled["status"] == "canceled"
    # The usage before the pause was billed at the pause, once; the cancel bills nothing
    # (not the 100 again, and usage sent while paused is kept, never billed).
    _, before_pause = invoices(api, sub)
    assert usage_lines(before_pause) == [("tokens", "100", 200)]
    advance(api, clock_id, 45)
    assert len(invoices(api, sub)) == 2
