"""Subscriptions over HTTP: create with and without a trial, read and list, change items
in each proration mode, cancel and undo, pause and resume, extend a trial, idempotency;
and the scheduler inside the app renewing on the server's clock."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any
from uuid import UUID

from adapters.clock import FixedClock
from api.bootstrap import Tally
from api.objects import rfc3339
from api.settings import Settings
from tests.e2e.billing import customer, plan, problem, subscribe
from tests.e2e.conftest import Client, nothing_written, serve
from tests.e2e.test_integration_events import published


def _post(api: Client, sub_id: str, action: str, body: Any = None) -> dict[str, Any]:
    response = api.post(f"/v1/subscriptions/{sub_id}/{action}", body)
    subscription: dict[str, Any] = api.ok(response)["subscription"]
    return subscription


def test_trial_days_come_from_the_request_or_the_prices_default(
    api: Client, clock: FixedClock
) -> None:
    price_id = plan(api, "PRO", 2900, trial_days=14)
    defaulted = subscribe(api, customer(api, "a"), price_id)
    assert defaulted["status"] == "trialing"
    trial_end = clock.now() + timedelta(days=14)
    assert defaulted["trial_end"] == rfc3339(trial_end)
    assert defaulted["current_period_start"] == defaulted["trial_end"]
    none = subscribe(api, customer(api, "b"), price_id, trial_days=0)
    assert (none["status"], none["trial_end"]) == ("active", None)
    read = api.ok(api.get(f"/v1/subscriptions/{defaulted['id']}"))
    assert (read["status"], read["trial_end"]) == ("trialing", defaulted["trial_end"])


def test_list_per_customer_and_per_status_pages(api: Client) -> None:
    price_id = plan(api, "PRO", 1000)
    ada, bob = customer(api, "ada"), customer(api, "bob")
    mine = [subscribe(api, ada, price_id)["id"] for _ in range(3)]
    theirs = subscribe(api, bob, price_id)["id"]
    _post(api, mine[1], "cancel")
    first = api.ok(api.get("/v1/subscriptions", customer_id=ada, limit=2))
    assert ([s["id"] for s in first["data"]], first["has_more"]) == (mine[:2], True)
    rest = api.ok(api.get("/v1/subscriptions", customer_id=ada, starting_after=mine[1]))
    assert ([s["id"] for s in rest["data"]], rest["has_more"]) == (mine[2:], False)
    canceled = api.ok(api.get("/v1/subscriptions", status="canceled"))
    assert [s["id"] for s in canceled["data"]] == [mine[1]]
    active = api.ok(api.get("/v1/subscriptions", status="active"))
    assert [s["id"] for s in active["data"]] == [mine[0], mine[2], theirs]
    problem(api.get("/v1/subscriptions", status="sleeping"), 422, "validation_error")


def test_change_items_in_each_proration_mode(api: Client, clock: FixedClock) -> None:
    basic, pro = plan(api, "BASIC", 1000), plan(api, "PRO", 3000)
    sub_id = subscribe(api, customer(api), basic)["id"]
    clock.advance(timedelta(days=10))
    swapped = _post(api, sub_id, "items", {"items": [{"price_id": pro}], "proration": "none"})
    assert (swapped["items"][0]["price_id"], swapped["proration_lines"]) == (pro, [])
    later = _post(api, sub_id, "items", {"items": [{"price_id": basic}], "proration": "period_end"})
    assert later["items"][0]["price_id"] == pro
    assert [i["price_id"] for i in later["pending_items"]] == [basic]
    prorated = _post(api, sub_id, "items", {"items": [{"price_id": basic}]})
    credit, charge = (line["amount"] for line in prorated["proration_lines"])
    assert credit < 0 < charge
    # The old items cost three times the new, over the same remaining time; each line is
    # rounded to within half a minor unit.
    assert abs(credit + 3 * charge) <= 2
    assert prorated["items"][0]["price_id"] == basic
    read = api.ok(api.get(f"/v1/subscriptions/{sub_id}"))
    assert [line["amount"] for line in read["proration_lines"]] == [credit, charge]


def test_cancel_at_period_end_and_undo(api: Client) -> None:
    sub_id = subscribe(api, customer(api), plan(api, "PRO", 1000))["id"]
    scheduled = _post(api, sub_id, "cancel", {"at_period_end": True})
    assert (scheduled["status"], scheduled["cancel_at_period_end"]) == ("active", True)
    undone = _post(api, sub_id, "undo_cancel")
    assert undone["cancel_at_period_end"] is False
    now = _post(api, sub_id, "cancel")
    assert now["status"] == "canceled"
    assert now["canceled_at"]
    assert api.ok(api.get(f"/v1/subscriptions/{sub_id}"))["status"] == "canceled"


def test_pause_and_resume_start_a_new_period(api: Client, clock: FixedClock) -> None:
    sub_id = subscribe(api, customer(api), plan(api, "PRO", 1000))["id"]
    resume_at = (clock.now() + timedelta(days=40)).isoformat()
    paused = _post(api, sub_id, "pause", {"resume_at": resume_at})
    assert paused["status"] == "paused"
    assert paused["resume_at"]
    clock.advance(timedelta(days=3))
    resumed = _post(api, sub_id, "resume")
    assert resumed["status"] == "active"
    assert resumed["current_period_start"] == rfc3339(clock.now())
    problem(
        api.post(f"/v1/subscriptions/{sub_id}/pause", {"resume_at": "2000-01-01T00:00:00Z"}),
        422,
        "time_not_in_future",
    )


def test_a_paused_subscription_is_canceled_now_and_bills_nothing_more(
    api: Client, clock: FixedClock
) -> None:
    sub_id = subscribe(api, customer(api), plan(api, "PRO", 1000))["id"]
    resume_at = (clock.now() + timedelta(days=40)).isoformat()
    _post(api, sub_id, "pause", {"resume_at": resume_at})
    clock.advance(timedelta(days=3))
    with nothing_written(api.tally):  # no period runs while paused: no end to cancel at
        later = api.post(f"/v1/subscriptions/{sub_id}/cancel", {"at_period_end": True})
    assert "paused" in problem(later, 409, "invalid_transition")["detail"]
    canceled = _post(api, sub_id, "cancel")
    assert (canceled["status"], canceled["canceled_at"]) == ("canceled", rfc3339(clock.now()))
    assert canceled["next_due_at"] is None  # the resume it was paused until never comes
    read = api.ok(api.get(f"/v1/subscriptions/{sub_id}"))
    assert (read["status"], read["next_due_at"]) == ("canceled", None)
    listed = api.ok(api.get("/v1/subscriptions", status="canceled"))["data"]
    assert [s["id"] for s in listed] == [sub_id]
    # The first period's invoice only: its cancel billed nothing.
    invoices = api.ok(api.get(f"/v1/invoices?subscription_id={sub_id}"))["data"]
    assert len(invoices) == 1
    events = [e for e in published(api) if e["data"]["object"]["id"] == sub_id]
    assert [e["type"] for e in events[-2:]] == [
        "billing.subscription.updated",  # paused
        "billing.subscription.canceled",
    ]
    assert events[-1]["data"]["object"]["status"] == "canceled"


def test_extend_trial_moves_the_first_period(api: Client, clock: FixedClock) -> None:
    sub = subscribe(api, customer(api), plan(api, "PRO", 1000), trial_days=7)
    new_end = clock.now() + timedelta(days=21)
    extended = _post(api, sub["id"], "extend_trial", {"trial_end": new_end.isoformat()})
    assert extended["trial_end"] == extended["current_period_start"] == rfc3339(new_end)
    with nothing_written(api.tally):
        earlier = {"trial_end": sub["trial_end"]}
        response = api.post(f"/v1/subscriptions/{sub['id']}/extend_trial", earlier)
    problem(response, 422, "validation_error")


def test_incomplete_subscription_waits_for_activation(api: Client) -> None:
    sub = subscribe(api, customer(api), plan(api, "PRO", 1000), incomplete=True)
    assert sub["status"] == "incomplete"
    assert _post(api, sub["id"], "activate")["status"] == "active"


def test_same_idempotency_key_replays_the_subscription(api: Client, app_tally: Tally) -> None:
    body = {"customer_id": customer(api), "items": [{"price_id": plan(api, "PRO", 1000)}]}
    first = api.post("/v1/subscriptions", body, key="sub-1")
    assert first.status_code == 201
    with nothing_written(app_tally):
        again = api.post("/v1/subscriptions", body, key="sub-1")
    assert (again.status_code, again.headers["Idempotency-Replayed"]) == (201, "true")
    assert again.json() == first.json()
    listed = api.ok(api.get("/v1/subscriptions", customer_id=body["customer_id"]))
    assert len(listed["data"]) == 1


def test_scheduler_inside_the_app_renews_on_the_servers_clock(
    settings: Settings, clock: FixedClock
) -> None:
    fast = settings.model_copy(update={"scheduler_interval_s": 0.05})
    with serve(fast, clock) as api:
        subs = [subscribe(api, customer(api, f"u{i}"), plan(api, "PRO", 1000)) for i in range(3)]
        clock.advance(timedelta(days=32))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            listed = api.ok(api.get("/v1/subscriptions"))["data"]
            if all(s["current_period_start"] != subs[0]["current_period_start"] for s in listed):
                break
            time.sleep(0.05)
        # A few more passes happen meanwhile; none renews again.
        time.sleep(0.3)
        for sub in subs:
            read = api.ok(api.get(f"/v1/subscriptions/{sub['id']}"))
            assert read["current_period_start"] == sub["current_period_end"]
            events = api.tally.store.events.get(UUID(sub["id"]))
            renewed = [e for e in events if type(e).__name__ == "Renewed"]
            assert [getattr(e, "issued_by", None) for e in renewed] == ["system:scheduler"]
