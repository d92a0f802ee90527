"""The usage door and a renewal not yet projected (issue 13): the door decides which
period an event belongs to from the subscriptions read model, so while a renewal is
recorded but not applied there it must not take an event for a period that renewal has
closed (no later invoice would bill it: money lost). The projection is held back for
real, by a transaction holding the subscription's read-model row, as the worker would be
by a long batch or a stall; the door's reads see the row as it was."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psycopg import sql

from api.bootstrap import Tally
from tests.e2e.billing import problem, sandbox
from tests.e2e.conftest import Client
from tests.e2e.test_usage_rating import (
    advance,
    at,
    invoices,
    metered_subscription,
    send,
    settle,
    usage_of,
    used,
)

__all__ = ["sandbox"]  # the fixture, used by name


@contextmanager
def projection_held(tally: Tally, subscription_id: str) -> Iterator[None]:
    """The projection worker blocks on the subscription's row until the block ends (it
    updates the row in its batch's transaction, which waits for this lock)."""
    with tally.views.connection() as conn, conn.transaction():
        conn.execute(
            sql.SQL("SELECT 1 FROM {}.subscriptions WHERE id = %s FOR UPDATE").format(
                sql.Identifier(tally.schema)
            ),
            (subscription_id,),
        )
        yield


def billed_tokens(api: Client, sub: dict[str, Any]) -> list[tuple[str, str]]:
    return [(line[2].get("model", ""), line[1]) for i in invoices(api, sub) for line in usage_of(i)
            if line[0] == "tokens"]  # fmt: skip


def test_usage_for_a_period_an_unprojected_renewal_closed_is_never_stored_unbilled(
    sandbox: Client, app_tally: Tally
) -> None:
    api = sandbox
    clock_id, sub = metered_subscription(api)
    advance(api, clock_id, 28.2)  # renewed at 28 Feb 09:00: the first period is invoiced
    with projection_held(app_tally, sub["id"]):
        # The next renewal (31 Mar) is recorded; its projection waits for the row.
        api.post(f"/v1/test_clocks/{clock_id}/advance", {"frozen_time": at(59.1)})
        # For the period invoiced first, within its grace by the clock the read models
        # still show (28.2 days): as the read model stands, a late event to accept; but
        # the log has closed that period, and the next renewal bills only the period
        # before it.
        held = api.post("/v1/usage_events/batch", {"events": [
            used("late", 27.5, tokens="40", model="large")]})  # fmt: skip
        problem(held, 503, "read_model_behind")
        assert held.headers["Retry-After"] == "1"
        single = api.post("/v1/usage_events", used("late", 27.5, tokens="40", model="large"))
        problem(single, 503, "read_model_behind")
    settle(api)
    # Retried once the read model holds the renewal: refused as the log says.
    problem(
        api.post("/v1/usage_events", used("late", 27.5, tokens="40", model="large")),
        409,
        "usage_period_closed",
    )
    assert send(api, used("now", 59.05, tokens="2", model="large")) == ["created"]
    advance(api, clock_id, 89.5)  # the renewal after (30 Apr) bills the period since
    assert billed_tokens(api, sub) == [("large", "2")]


def test_usage_the_door_admitted_before_a_renewal_and_stored_after_it_is_billed(
    sandbox: Client, app_tally: Tally
) -> None:
    """The window the read-model check leaves: the door admits an event (its check sees
    the log as it is) and, before the batch commits, a renewal reads the period's usage
    and commits. The renewal after it bills it as late usage (UsageBilling keeps the
    period before the last too), so it is not lost."""
    from adapters.usage_store import write
    from api.schemas.usage import UsageEventRequest
    from api.usage_door import admit, lookup

    api = sandbox
    clock_id, sub = metered_subscription(api)
    advance(api, clock_id, 28.2)  # the first period is invoiced; its grace runs a day
    project = api.project_id
    request = UsageEventRequest.model_validate(used("late", 27.5, tokens="40", model="large"))
    admitted = admit(request, lookup(app_tally, project, [request]))  # the door's verdict
    advance(api, clock_id, 59.1)  # the next renewal reads the usage and commits
    write(app_tally.views, app_tally.schema, project, [admitted], app_tally.clock.now())
    advance(api, clock_id, 89.5)  # the renewal after it
    first, _, second, third = invoices(api, sub)[:4]
    assert usage_of(second) == []  # the renewal that read the usage before it was stored
    late = [li for li in third["lines"] if li["kind"] == "usage"]
    assert [(li["usage"]["quantity"], li["usage"]["billed_before"], li["amount"]) for li in late
            ] == [("40", "0", 80)]  # fmt: skip
    assert late[0]["period"] == [first["period_start"], first["period_end"]]
    assert billed_tokens(api, sub) == [("large", "40")]


def test_usage_the_door_admitted_before_two_renewals_is_refused_not_stored_unbilled(
    sandbox: Client, app_tally: Tally
) -> None:
    """Two renewals between the door's verdict and the batch's commit (a test clock
    advanced over two periods): the period the event is for is then older than any
    later invoice bills. The renewals fence it off before they read the usage
    (adapters/usage_fences.py), so the batch does not store it and answers it
    usage_period_closed. Before the fences it was stored, counted and never billed."""
    from adapters.usage_store import write
    from api.schemas.usage import UsageEventRequest
    from api.usage_door import admit, lookup

    api = sandbox
    clock_id, sub = metered_subscription(api)
    advance(api, clock_id, 28.2)  # the first period is invoiced; its grace runs a day
    project = api.project_id
    late = used("late", 27.5, tokens="40", model="large")
    request = UsageEventRequest.model_validate(late)
    admitted = admit(request, lookup(app_tally, project, [request]))  # the door's verdict
    advance(api, clock_id, 89.5)  # renewals on 31 Mar and 30 Apr read the usage
    written = write(app_tally.views, app_tally.schema, project, [admitted], app_tally.clock.now())
    assert (written.created, written.closed) == (frozenset(), frozenset({"late"}))
    first = invoices(api, sub)[0]
    usage = api.ok(api.get(f"/v1/subscriptions/{sub['id']}/usage", at=first["period_start"]))
    tokens = next(m for m in usage["meters"] if m["code"] == "tokens")
    assert tokens["groups"] == []  # not stored, so not counted as usage never billed
    # A resend now: refused as the door says once the read models hold the renewals.
    problem(api.post("/v1/usage_events", late), 409, "usage_period_closed")


def test_a_batch_holding_its_customers_fence_makes_a_renewal_wait_for_its_commit(
    app_tally: Tally,
) -> None:
    """The serialization itself: a renewal raising a fence waits for a usage batch of
    the same customer that holds the lock (shared) until that batch commits."""
    import threading
    import time
    from datetime import UTC, datetime
    from uuid import uuid4

    from adapters.usage_fences import fences_held, raise_fence

    project, customer, subscription = uuid4(), uuid4(), uuid4()
    before = datetime(2030, 1, 1, tzinfo=UTC)
    raised: list[float] = []

    def renewal() -> None:
        raise_fence(app_tally.views, app_tally.schema, project, customer, subscription, before)
        raised.append(time.monotonic())

    with app_tally.views.connection() as conn, conn.transaction(), conn.cursor() as cur:
        assert fences_held(cur, app_tally.schema, project, [customer]) == {}
        thread = threading.Thread(target=renewal)
        thread.start()
        time.sleep(0.3)
        assert raised == []  # waiting for the batch's commit
        committed = time.monotonic()
    thread.join(5)
    assert raised
    assert raised[0] >= committed
    with app_tally.views.connection() as conn, conn.transaction(), conn.cursor() as cur:
        held = fences_held(cur, app_tally.schema, project, [customer])
    assert held == {customer: {subscription: before}}
