"""Test clocks over HTTP: a subscription moved through its trial, renewals, a plan change
with proration and its cancellation, by advancing a clock; and the clock's refusals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from api.bootstrap import Tally
from tests.e2e.billing import START, clock, customer, plan, price, problem, product, subscribe
from tests.e2e.billing import sandbox as sandbox  # the fixture
from tests.e2e.conftest import Client, nothing_written


def _advance(api: Client, clock_id: str, days: float) -> dict[str, Any]:
    to = (START + timedelta(days=days)).isoformat()
    return api.ok(api.post(f"/v1/test_clocks/{clock_id}/advance", {"to": to}))


def _events(tally: Tally, sub_id: str, name: str) -> list[Any]:
    return [e for e in tally.store.events.get(UUID(sub_id)) if type(e).__name__ == name]


def test_clock_moves_a_subscription_through_trial_renewals_plan_change_and_cancel(
    sandbox: Client, app_tally: Tally
) -> None:
    api = sandbox
    clock_id = clock(api)
    customer_id = customer(api, "ada", test_clock_id=clock_id)
    basic = plan(api, "BASIC", 1000)
    pro = plan(api, "PRO", 3100)

    sub = subscribe(api, customer_id, basic, trial_days=14)
    assert sub["status"] == "trialing"
    assert sub["trial_end"] == "2030-02-14T09:00:00.000000Z"
    assert sub["test_clock_id"] == clock_id
    sub_id = sub["id"]

    assert _advance(api, clock_id, 14)["steps"] == {"trial_end_announced": 1, "trial_ended": 1}
    # Trial end Feb 14; periods end Mar 14 and Apr 14; the clock stops on Apr 20.
    advanced = _advance(api, clock_id, 79)
    assert advanced["steps"] == {"renewed": 2}
    assert advanced["test_clock"]["frozen_time"] == "2030-04-20T09:00:00.000000Z"
    assert [e.period_index for e in _events(app_tally, sub_id, "Renewed")] == [1, 2]

    # Upgrade six days into the 30-day period Apr 14 - May 14: 24/30 of it remains.
    changed = api.ok(api.post(f"/v1/subscriptions/{sub_id}/items", {"items": [{"price_id": pro}]}))[
        "subscription"
    ]
    assert [line["amount"] for line in changed["proration_lines"]] == [-800, 2480]
    assert changed["items"] == [{"price_id": pro, "quantity": 1, "amount": 3100}]

    cancel = {"at_period_end": True}
    scheduled = api.ok(api.post(f"/v1/subscriptions/{sub_id}/cancel", cancel))["subscription"]
    assert scheduled["cancel_at_period_end"] is True
    assert scheduled["status"] == "active"

    # May 14 ends the period: the subscription cancels instead of renewing.
    assert _advance(api, clock_id, 120)["steps"] == {"canceled": 1}
    renewals = _events(app_tally, sub_id, "Renewed")
    assert len(renewals) == 2
    canceled = _events(app_tally, sub_id, "Canceled")
    assert [c.at.isoformat() for c in canceled] == ["2030-05-14T09:00:00+00:00"]

    # The read side agrees with the write side.
    read = api.ok(api.get(f"/v1/subscriptions/{sub_id}"))
    assert read["status"] == "canceled"
    assert read["items"][0]["price_id"] == pro
    assert read["next_due_at"] is None
    read_clock = api.ok(api.get(f"/v1/test_clocks/{clock_id}"))
    assert read_clock["frozen_time"] == "2030-05-31T09:00:00.000000Z"
    assert read_clock["subscriptions"] == 1


def test_proration_lines_reach_the_next_renewal(sandbox: Client, app_tally: Tally) -> None:
    api = sandbox
    clock_id = clock(api)
    sub_id = subscribe(api, customer(api, "bob", test_clock_id=clock_id), plan(api, "A", 3000))[
        "id"
    ]
    seats = price(api, product(api, "SEATS"), "seats", scheme="per_unit", unit_amount=1000)
    _advance(api, clock_id, 15)
    body = {"items": [{"price_id": seats, "quantity": 6}], "proration": "prorate"}
    lines = api.ok(api.post(f"/v1/subscriptions/{sub_id}/items", body))["subscription"][
        "proration_lines"
    ]
    assert lines[0]["amount"] < 0 < lines[1]["amount"]
    _advance(api, clock_id, 40)
    renewed = _events(app_tally, sub_id, "Renewed")
    assert len(renewed) == 1
    assert renewed[0].amount_due == 6000
    assert [line["amount"] for line in renewed[0].proration_lines] == [
        line["amount"] for line in lines
    ]


def test_clock_cannot_go_backwards_and_writes_nothing(sandbox: Client, app_tally: Tally) -> None:
    clock_id = clock(sandbox)
    with nothing_written(app_tally):
        response = sandbox.post(
            f"/v1/test_clocks/{clock_id}/advance",
            {"to": (START - timedelta(seconds=1)).isoformat()},
        )
    assert problem(response, 422, "clock_cannot_go_backwards")["frozen_time"]


def test_test_clock_in_a_live_project_is_refused_and_writes_nothing(
    api: Client, sandbox: Client, app_tally: Tally
) -> None:
    body = {"frozen_time": START.isoformat()}
    with nothing_written(app_tally):
        problem(api.post("/v1/test_clocks", body), 409, "test_clock_in_live_mode")
    # Nor can a live customer be put on a test-mode project's clock.
    foreign = clock(sandbox)
    with nothing_written(app_tally):
        response = api.post(
            "/v1/customers", {"external_id": "x", "currency": "EUR", "test_clock_id": foreign}
        )
    problem(response, 409, "test_clock_in_live_mode")


def test_a_naive_time_is_a_validation_error(sandbox: Client, app_tally: Tally) -> None:
    with nothing_written(app_tally):
        response = sandbox.post("/v1/test_clocks", {"frozen_time": "2030-01-01T00:00:00"})
    assert problem(response, 422, "validation_error")["errors"][0]["field"] == "frozen_time"


def test_other_projects_clock_answers_404(sandbox: Client, http: Any, app_tally: Tally) -> None:
    from tests.e2e.billing import client_in_mode

    clock_id = clock(sandbox)
    stranger = client_in_mode(http, app_tally, "stranger", "test")
    to = {"to": (START + timedelta(days=1)).isoformat()}
    with nothing_written(app_tally):
        problem(stranger.post(f"/v1/test_clocks/{clock_id}/advance", to), 404, "not_found")
    problem(stranger.get(f"/v1/test_clocks/{clock_id}"), 404, "not_found")
    with nothing_written(app_tally):
        response = stranger.post(
            "/v1/customers", {"external_id": "s", "currency": "EUR", "test_clock_id": clock_id}
        )
    problem(response, 404, "not_found")


def test_list_test_clocks_pages(sandbox: Client) -> None:
    ids = [clock(sandbox, START + timedelta(days=i)) for i in range(3)]
    first = sandbox.ok(sandbox.get("/v1/test_clocks", limit=2))
    assert [c["id"] for c in first["data"]] == ids[:2]
    assert first["has_more"] is True
    rest = sandbox.ok(sandbox.get("/v1/test_clocks", limit=2, starting_after=ids[1]))
    assert [c["id"] for c in rest["data"]] == ids[2:]
    assert rest["has_more"] is False


def test_a_trials_end_is_announced_three_days_ahead_as_trial_will_end(sandbox: Client) -> None:
    from api.integration_events import event_model
    from tests.e2e.test_integration_events import published

    api = sandbox
    clock_id = clock(api)
    customer_id = customer(api, "ada", test_clock_id=clock_id)
    sub = subscribe(api, customer_id, plan(api, "BASIC", 1000), trial_days=14)
    assert _advance(api, clock_id, 10)["steps"] == {}  # four days before its end
    assert _advance(api, clock_id, 11)["steps"] == {"trial_end_announced": 1}
    assert _advance(api, clock_id, 12)["steps"] == {}  # once per trial end
    assert _advance(api, clock_id, 14)["steps"] == {"trial_ended": 1}
    events = published(api)
    types = [e["type"] for e in events]
    assert types.count("billing.subscription.trial_will_end") == 1
    notice = events[types.index("billing.subscription.trial_will_end")]
    assert notice["data"]["object"]["id"] == sub["id"]
    assert notice["data"]["object"]["trial_end"] == "2030-02-14T09:00:00.000000Z"
    event_model("billing.subscription.trial_will_end").model_validate(notice)
    # Announced before the trial ended (the updates after it carry its end).
    later = [e["position"] for e in events if e["type"] == "billing.subscription.updated"]
    assert notice["position"] < max(later)
