"""Usage events over HTTP (issue 13): one and a batch, deduplication by transaction id,
per-event errors, tenancy, late events on a test clock, and the usage queries."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

from api.bootstrap import Tally
from tests.e2e.billing import START, clock, customer, problem, product, sandbox, subscribe
from tests.e2e.conftest import Client, nothing_written

__all__ = ["sandbox"]  # the fixture, used by name

METERS: list[dict[str, Any]] = [
    {"code": "calls", "name": "Calls", "event_name": "call", "aggregation": "count"},
    {"code": "tokens", "name": "Tokens", "event_name": "completion", "aggregation": "sum",
     "property": "tokens", "group_by": ["model"]},
    {"code": "users", "name": "Users", "event_name": "call", "aggregation": "unique_count",
     "property": "user", "filters": {"region": ["eu"]}},
]  # fmt: skip


def define_meters(api: Client) -> None:
    for meter in METERS:
        api.ok(api.post("/v1/meters", meter), 201)


def settle(api: Client) -> None:
    """Wait until the read models hold the client's writes (the door reads customers,
    subscriptions and meters there)."""
    api.ok(api.get("/v1/meters"))


def event(tx: str, name: str = "call", who: str = "user_1", **fields: Any) -> dict[str, Any]:
    return {"transaction_id": tx, "external_customer_id": who, "event_name": name, **fields}


def values(usage: dict[str, Any]) -> dict[str, list[tuple[dict[str, Any], str | None]]]:
    return {m["code"]: [(g["group"], g["value"]) for g in m["groups"]] for m in usage["meters"]}


def test_a_batch_stores_each_event_once_and_answers_each_one(api: Client) -> None:
    define_meters(api)
    customer_id = customer(api, "user_1")
    settle(api)
    props = {"user": "u1", "region": "eu"}
    batch = [
        event("a", properties=props),
        event("b", properties={"user": "u2", "region": "eu"}),
        event("a", properties=props),  # the same id again: one effect
        event("c", name="completion", properties={"tokens": "12.5", "model": "large"}),
        event("d", name="completion", properties={"tokens": 3, "model": "large"}),  # a float
        event("e", name="nothing_counts_it"),
        event("f", who="nobody"),
        event("g", name="completion", properties={"model": "large"}),  # no tokens
        {"transaction_id": "h", "event_name": "call"},  # no customer
    ]
    answer = api.ok(api.post("/v1/usage_events/batch", {"events": batch}))
    statuses = [
        (r["index"], r["status"], (r["error"] or {}).get("code")) for r in answer["results"]
    ]
    assert statuses == [
        (0, "created", None),
        (1, "created", None),
        (2, "existed", None),
        (3, "created", None),
        (4, "refused", "validation_error"),
        (5, "refused", "unknown_event_name"),
        (6, "refused", "not_found"),
        (7, "refused", "invalid_properties"),
        (8, "refused", "invalid_combination"),
    ]
    assert (answer["created"], answer["existed"], answer["refused"]) == (3, 1, 5)
    again = api.ok(api.post("/v1/usage_events/batch", {"events": batch[:4]}))
    assert [r["status"] for r in again["results"]] == ["existed"] * 4
    usage = api.ok(api.get(f"/v1/customers/{customer_id}/usage"))
    assert values(usage) == {
        "calls": [({}, "2")],
        "tokens": [({"model": "large"}, "12.5")],
        "users": [({}, "2")],
    }


def test_one_event_answers_created_then_existed_and_refusals_write_nothing(
    api: Client, app_tally: Tally
) -> None:
    define_meters(api)
    customer(api, "user_1")
    settle(api)
    first = api.post("/v1/usage_events", event("x1", properties={"user": "u"}))
    assert first.status_code == 201, first.text
    assert first.json()["object"] == "usage_event"
    assert first.json()["existed"] is False
    resent = api.post("/v1/usage_events", event("x1", properties={"user": "other"}))
    assert resent.status_code == 200
    assert resent.json()["existed"] is True
    assert resent.json()["properties"] == {"user": "u"}  # the stored event, unchanged
    with nothing_written(app_tally):
        problem(api.post("/v1/usage_events", event("x2", name="nope")), 422, "unknown_event_name")
    future = (api.tally.clock.now() + timedelta(hours=1)).isoformat()
    problem(api.post("/v1/usage_events", event("x3", timestamp=future)), 422,
            "timestamp_in_future")  # fmt: skip
    problem(api.post("/v1/usage_events", event("x4", properties={"n": 1})), 422,
            "validation_error")  # fmt: skip
    problem(api.post("/v1/usage_events", {"events": []}), 422, "validation_error")


def test_another_projects_customer_and_subscription_are_not_found(
    api: Client, other: Client
) -> None:
    define_meters(api)
    define_meters(other)
    theirs = customer(other, "user_9")
    settle(api)
    settle(other)
    problem(api.post("/v1/usage_events", event("t1", who="user_9")), 404, "not_found")
    problem(api.get(f"/v1/customers/{theirs}/usage"), 404, "not_found")
    answer = api.ok(api.post("/v1/usage_events/batch", {"events": [event("t2", who="user_9")]}))
    assert answer["results"][0]["error"]["code"] == "not_found"
    # The same transaction id in two projects is two events.
    customer(api, "user_9")
    settle(api)
    assert api.post("/v1/usage_events", event("t1", who="user_9")).status_code == 201
    assert other.post("/v1/usage_events", event("t1", who="user_9")).status_code == 201


def test_subscription_usage_counts_its_period_and_late_events_are_refused(
    sandbox: Client,
) -> None:
    api = sandbox
    define_meters(api)
    clock_id = clock(api)
    customer_id = customer(api, "user_1", test_clock_id=clock_id)
    meter_price = {"scheme": "metered", "meter": "tokens", "unit_amount": 1}
    from tests.e2e.billing import price

    price_id = price(api, product(api, "API"), "api_tokens", **meter_price)
    sub = subscribe(api, customer_id, price_id)
    settle(api)
    in_first = (START + timedelta(days=2)).isoformat()
    three_days = (START + timedelta(days=3)).isoformat()
    api.ok(api.post(f"/v1/test_clocks/{clock_id}/advance", {"frozen_time": three_days}))
    settle(api)
    tokens = {"tokens": "100", "model": "m"}
    own = {"transaction_id": "s1", "subscription_id": sub["id"], "event_name": "completion",
           "timestamp": in_first, "properties": tokens}  # fmt: skip
    assert api.post("/v1/usage_events", own).status_code == 201
    ok = event("s2", name="completion", timestamp=in_first, properties={**tokens, "tokens": "5"})
    assert api.post("/v1/usage_events", ok).status_code == 201
    usage = api.ok(api.get(f"/v1/subscriptions/{sub['id']}/usage"))
    assert usage["period_start"].startswith("2030-01-31")
    assert values(usage)["tokens"] == [({"model": "m"}, "105")]
    # The clock passes the period's end: the subscription renews, its period is invoiced.
    later = (START + timedelta(days=40)).isoformat()
    api.ok(api.post(f"/v1/test_clocks/{clock_id}/advance", {"frozen_time": later}))
    settle(api)
    late = event("s3", name="completion", timestamp=in_first, properties=tokens)
    problem(api.post("/v1/usage_events", late), 409, "usage_period_closed")
    current = api.ok(api.get(f"/v1/subscriptions/{sub['id']}/usage"))
    assert current["period_start"].startswith("2030-02-28")
    assert values(current)["tokens"] == []


def test_a_subscription_counts_its_own_and_its_customers_events_not_anothers(
    api: Client,
) -> None:
    from tests.e2e.billing import price

    define_meters(api)
    customer_id = customer(api, "user_1")
    metered = {"scheme": "metered", "meter": "calls", "unit_amount": 1}
    first = subscribe(api, customer_id, price(api, product(api, "A"), "a_calls", **metered))
    second = subscribe(api, customer_id, price(api, product(api, "B"), "b_calls", **metered))
    settle(api)
    now = api.tally.clock.now().isoformat()
    batch = [
        {"transaction_id": "own", "subscription_id": first["id"], "event_name": "call",
         "timestamp": now},
        {"transaction_id": "other", "subscription_id": second["id"], "event_name": "call",
         "timestamp": now},
        event("customer", timestamp=now),
        {**event("mismatch"), "subscription_id": second["id"], "external_customer_id": "x"},
    ]  # fmt: skip
    answer = api.ok(api.post("/v1/usage_events/batch", {"events": batch}))
    assert [r["status"] for r in answer["results"]] == ["created"] * 3 + ["refused"]
    assert values(api.ok(api.get(f"/v1/subscriptions/{first['id']}/usage")))["calls"] == [
        ({}, "2")]  # fmt: skip
    assert values(api.ok(api.get(f"/v1/customers/{customer_id}/usage")))["calls"] == [({}, "3")]


def test_customer_usage_periods_are_checked(api: Client) -> None:
    customer_id = customer(api, "user_1")
    settle(api)
    path = f"/v1/customers/{customer_id}/usage"
    problem(api.get(path, start="2030-01-01T00:00:00Z"), 422, "invalid_combination")
    problem(api.get(path, start="2030-01-01T00:00:00Z", end="2031-03-01T00:00:00Z"), 422,
            "invalid_combination")  # fmt: skip
    problem(api.get(path, start="2030-01-02T00:00:00Z", end="2030-01-01T00:00:00Z"), 422,
            "invalid_combination")  # fmt: skip
    edge = api.ok(api.get(path, start="9997-12-31T00:00:00Z", end="9997-12-31T23:59:59Z"))
    assert edge["meters"] == []
    # Years past 9997 are outside the stated pattern (as every timestamp the API takes).
    problem(api.get(path, start="9998-12-31T00:00:00Z", end="9999-01-01T00:00:00Z"), 422,
            "validation_error")  # fmt: skip
    problem(api.get(path, start="2030-01-01T00:00:00", end="2030-01-02T00:00:00"), 422,
            "validation_error")  # fmt: skip


def test_timestamps_with_an_offset_fall_in_their_utc_hours_and_minutes(api: Client) -> None:
    """A timestamp keeps the offset it was sent with; the totals are kept per UTC hour and
    minute. With +05:30 (a half-hour offset) an event's local hour is not a UTC hour, so a
    window that cuts hours counts each event once, by its instant, whatever the offset."""
    define_meters(api)
    customer_id = customer(api, "user_1")
    settle(api)
    india = timezone(timedelta(hours=5, minutes=30))
    now = api.tally.clock.now()
    base = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)
    minutes = [10, 50, 80, 160, 200]
    batch = [
        event(f"t{m}", timestamp=(base + timedelta(minutes=m)).astimezone(india).isoformat())
        for m in minutes
    ]
    answer = api.ok(api.post("/v1/usage_events/batch", {"events": batch}))
    assert [r["status"] for r in answer["results"]] == ["created"] * len(minutes)
    path = f"/v1/customers/{customer_id}/usage"
    for start_m, end_m in [(40, 180), (0, 240), (55, 165), (11, 81)]:
        start = (base + timedelta(minutes=start_m)).astimezone(india).isoformat()
        end = (base + timedelta(minutes=end_m)).astimezone(india).isoformat()
        counted = values(api.ok(api.get(path, start=start, end=end))).get("calls", [])
        expected = sum(1 for m in minutes if start_m <= m < end_m)
        assert counted == [({}, str(expected))], (start_m, end_m)
