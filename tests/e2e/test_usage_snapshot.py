"""A subscription's usage read on one connection, in one snapshot (issue 13, the p99 of
the current-usage query): whatever events were sent (duplicates, events before the
period, events for the customer or for the subscription), the route answers what the
separate reads answered before (the period from the subscription, the meters, then
``usage``) and what a plain fold over the deduplicated events gives; and it takes one
pooled connection, where it took five."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.usage_queries import Scope, usage
from api.bootstrap import Tally
from api.usage_periods import subscription_usage
from domain.usage import MeterRule
from projections.meters import meters_of
from tests.e2e.billing import START, clock, customer, price, product, sandbox, subscribe
from tests.e2e.conftest import Client
from tests.e2e.test_usage import define_meters, settle, values

__all__ = ["sandbox"]  # the fixture, used by name

# The subscription starts off the minute, so its period's first minute is read from the
# events themselves (the totals hold whole minutes).
BEGIN = START + timedelta(seconds=17, microseconds=500_000)
NOW = BEGIN + timedelta(days=3)  # the test clock, inside the first period


@dataclasses.dataclass(frozen=True)
class Metered:
    api: Client
    customer_id: UUID
    subscription: dict[str, Any]
    sent: dict[str, dict[str, Any]]  # every event stored so far, by transaction id


@pytest.fixture
def metered(sandbox: Client) -> Metered:
    """A customer on a test clock with a subscription to a metered price (once per
    test: hypothesis's examples add events to it)."""
    define_meters(sandbox)
    clock_id = clock(sandbox, BEGIN)
    customer_id = customer(sandbox, "user_1", test_clock_id=clock_id)
    price_id = price(sandbox, product(sandbox, "API"), "api_tokens", scheme="metered",
                     meter="tokens", unit_amount=1)  # fmt: skip
    subscription = subscribe(sandbox, customer_id, price_id)
    sandbox.ok(sandbox.post(f"/v1/test_clocks/{clock_id}/advance",
                            {"frozen_time": NOW.isoformat()}))  # fmt: skip
    settle(sandbox)
    return Metered(sandbox, UUID(customer_id), subscription, {})


def events(prefix: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Events of the three meters (calls, tokens per model, distinct EU users), a few
    transaction ids each (so duplicates), from two hours before the period to now."""
    seconds = st.one_of(st.integers(-2 * 3600, 3 * 86400), st.integers(-90, 90))
    moment = seconds.map(
        lambda s: (BEGIN + timedelta(seconds=s, microseconds=s % 7 * 125_000)).isoformat()
    )
    call = st.fixed_dictionaries({
        "event_name": st.just("call"), "timestamp": moment,
        "properties": st.fixed_dictionaries({"user": st.sampled_from(["u1", "u2", "u3"]),
                                             "region": st.sampled_from(["eu", "us"])}),
    })  # fmt: skip
    completion = st.fixed_dictionaries({
        "event_name": st.just("completion"), "timestamp": moment,
        "properties": st.fixed_dictionaries({"tokens": st.integers(0, 10**6).map(str),
                                             "model": st.sampled_from(["s", "l"])}),
    })  # fmt: skip
    one = st.tuples(st.integers(0, 12), st.booleans(), st.one_of(call, completion))
    return st.lists(one, max_size=25).map(
        lambda drawn: [
            {**body, "transaction_id": f"{prefix}{n}", **({"subscription_id": True} if own else {})}
            for n, own, body in drawn
        ]
    )


def fold(sent: list[dict[str, Any]], period: tuple[datetime, datetime]) -> dict[str, Any]:
    """The three meters' values over ``period``, as ``values`` shows an answer."""
    inside = [e for e in sent if period[0] <= datetime.fromisoformat(e["timestamp"]) < period[1]]
    calls = [e for e in inside if e["event_name"] == "call"]
    tokens: dict[str, Decimal] = {}
    for e in inside:
        if e["event_name"] == "completion":
            model = e["properties"]["model"]
            tokens[model] = tokens.get(model, Decimal(0)) + Decimal(e["properties"]["tokens"])
    users = {e["properties"]["user"] for e in calls if e["properties"]["region"] == "eu"}
    return {
        "calls": [({}, str(len(calls)))],
        "tokens": [({"model": m}, str(tokens[m])) for m in sorted(tokens)],
        "users": [({}, str(len(users)))],
    }


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_subscription_usage_in_one_snapshot_equals_the_separate_reads_and_the_fold(
    metered: Metered, data: st.DataObject
) -> None:
    api, sub = metered.api, metered.subscription
    batch = data.draw(events(f"e{len(metered.sent)}-"))
    for body in batch:
        if body.pop("subscription_id", False):
            body["subscription_id"] = sub["id"]
        else:
            body["external_customer_id"] = "user_1"
    if batch:
        api.ok(api.post("/v1/usage_events/batch", {"events": batch}))
    for body in batch:  # the first of an id is the one stored
        metered.sent.setdefault(body["transaction_id"], body)

    answer = api.ok(api.get(f"/v1/subscriptions/{sub['id']}/usage"))
    period = (
        datetime.fromisoformat(answer["period_start"]),
        datetime.fromisoformat(answer["period_end"]),
    )
    assert period == (BEGIN, datetime.fromisoformat(sub["current_period_end"]))
    assert values(answer) == fold(list(metered.sent.values()), period)
    # The reads as the route made them before: the meters, then the usage on its own.
    tally = api.tally
    rules = [MeterRule.of(m) for m in meters_of(tally.views, tally.schema, api.project_id)]
    scope = Scope(api.project_id, metered.customer_id, UUID(sub["id"]))
    before = usage(tally.views, tally.schema, scope, rules, *period)
    assert {str(k): v for k, v in before.items()} == {
        m["meter_id"]: {_stored(g["group"]): Decimal(g["value"]) for g in m["groups"]
                        if g["value"] != "0" or g["group"]}
        for m in answer["meters"]
    }  # fmt: skip


def _stored(group: dict[str, Any]) -> str:
    """A group as ``usage`` keys it (the JSON list of its values)."""
    import json

    return json.dumps(list(group.values()), separators=(",", ":"))


class CountingPool:
    """The application's pool, counting the connections taken from it."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.taken = 0

    @contextmanager
    def connection(self) -> Iterator[Any]:
        self.taken += 1
        with self.pool.connection() as conn:
            yield conn


def test_subscription_usage_takes_one_connection(metered: Metered, app_tally: Tally) -> None:
    """Five checkouts (each with its check) and a dozen round trips were where the
    query's time went on a busy machine; now one connection, one snapshot."""
    counting = CountingPool(app_tally.views)
    tally = dataclasses.replace(app_tally, views=cast(Any, counting))
    sub = UUID(metered.subscription["id"])
    answer = subscription_usage(tally, metered.api.project_id, sub)
    assert counting.taken == 1
    assert answer.period_start == BEGIN
    assert [m.code for m in answer.meters] == ["calls", "tokens", "users"]
