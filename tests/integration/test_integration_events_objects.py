"""The ``integration_events`` read model builds each event's object in SQL from its read
model's row (issue 16): the stored object must be exactly what the object's GET query
answers, the dict Python shapes from that row (uuids as text, times as ``isoformat``
writes them), for every kind of object."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from api.bootstrap import Tally
from domain.accounts import Account
from domain.customers import Customer
from domain.money import Money
from domain.transactions import Transaction
from projections.balances import get_account
from projections.customers import get_customer
from projections.entitlements import entitlements
from projections.integration_events import (
    NAMED_MISSING,
    IntegrationEvents,
    ObjectMissing,
    events_after,
)
from projections.integration_objects import iso_sql
from projections.invoices import get_invoice
from projections.paging import fetch_all
from projections.payment_queries import get_payment
from projections.registry import make_models
from projections.runner import ProjectionWorker
from projections.schema import table
from projections.subscriptions import get_subscription
from projections.transactions import get_transaction
from tests.integration.invoicing_workload import T0, invoicing_workload

pytestmark = pytest.mark.fixed_clock(T0)

GET: dict[str, Callable[..., dict[str, Any] | None]] = {
    "customer": get_customer,
    "subscription": get_subscription,
    "invoice": get_invoice,
    "account": get_account,
    "transaction": get_transaction,
    "payment": get_payment,
}


def test_every_stored_object_is_what_its_get_query_answers(tally: Tally) -> None:
    invoicing_workload(tally)
    # One batch: every object is then stored as its row is now, at the end of the log.
    ProjectionWorker(tally.store, tally.views, tally.schema, batch_size=100_000).catch_up()
    kinds: set[str] = set()
    for project_id in _projects(tally):
        latest_sets: dict[UUID, dict[str, Any]] = {}
        for row in events_after(tally.views, tally.schema, project_id, 0, 1000):
            kind = row["object_kind"]
            kinds.add(kind)
            if kind == "entitlements":  # the set after its event: the latest is GET's now
                latest_sets[row["object_id"]] = row["object"]
                continue
            expected = GET[kind](tally.views, tally.schema, project_id, row["object_id"])
            assert row["object"] == expected, (row["type"], row["position"])
        for customer_id, found in latest_sets.items():
            assert found == entitlements(tally.views, tally.schema, project_id, customer_id)
    assert kinds == {*GET, "entitlements"}


def _projects(tally: Tally) -> set[UUID]:
    query = sql.SQL("SELECT DISTINCT project_id FROM {}").format(
        table(tally.schema, "integration_events")
    )
    return {r["project_id"] for r in fetch_all(tally.views, query, [])}


def test_times_are_written_as_isoformat_writes_the_datetime_psycopg_reads(tally: Tally) -> None:
    """With and without microseconds (``isoformat`` leaves out a zero fraction and keeps
    trailing zeros), in the session's time zone."""
    whole = datetime(2027, 3, 1, 9, tzinfo=UTC)
    times = [whole + timedelta(microseconds=us) for us in (0, 1, 120_000, 999_999, 500_000)]
    times += [datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(2001, 1, 1, tzinfo=UTC)]
    query = sql.SQL("SELECT x, {} AS iso FROM unnest(%s::timestamptz[]) AS u(x)").format(
        sql.SQL(iso_sql("u.x"))
    )
    rows = fetch_all(tally.views, query, [times])
    assert len(rows) == len(times)
    for row in rows:
        assert row["iso"] == row["x"].isoformat()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(["UTC", "Asia/Kolkata", "America/St_Johns", "Pacific/Chatham"]),
    st.lists(
        st.datetimes(
            min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
        )
        | st.datetimes(
            min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
        ).map(lambda t: t.replace(microsecond=0)),
        min_size=1,
        max_size=8,
    ),
)
def test_any_time_in_any_session_zone_is_written_as_isoformat_writes_it(
    tally: Tally, zone: str, times: list[datetime]
) -> None:
    """``iso_sql`` (one ``to_char`` whose zero fraction is taken out) over any instant,
    whole seconds included, in a session whose zone has a half or three-quarter hour
    offset (from 1970: older offsets in seconds are no time zone's now)."""
    query = sql.SQL("SELECT x, {} AS iso FROM unnest(%s::timestamptz[]) AS u(x)").format(
        sql.SQL(iso_sql("u.x"))
    )
    with tally.views.connection() as conn:
        conn.execute(sql.SQL("SET TIME ZONE {}").format(sql.Literal(zone)))
        try:
            rows = conn.execute(query, [times]).fetchall()
        finally:
            conn.execute("RESET TIME ZONE")
    assert [r["iso"] for r in rows] == [r["x"].isoformat() for r in rows]
    assert [r["x"] for r in rows] == times


def test_a_batch_with_missing_objects_names_a_few_of_them_not_the_whole_batch(
    tally: Tally,
) -> None:
    """The stall's message is logged and stored: it says how many objects are missing and
    names the first few of those (it named the batch's first ids, present or not)."""
    project = UUID(int=7)
    saved = [Customer.register(project, f"u{i}", f"u{i}@example.com", "", "EUR") for i in range(40)]
    present = [e for c in saved for e in c.pending_events]  # saving empties the list
    tally.store.save(*saved)
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    unsaved = [Customer.register(project, f"v{i}", "", "", "EUR") for i in range(5)]
    batch = present + [e for c in unsaved for e in c.collect_events()]
    assert len(batch) == 45
    model = make_models(tally.views, tally.schema, [IntegrationEvents])[0]
    assert isinstance(model, IntegrationEvents)
    tracked = [(event, 1_000_000 + i) for i, event in enumerate(batch)]
    with (
        tally.views.connection() as conn,
        conn.transaction(force_rollback=True),
        conn.cursor() as cur,
        pytest.raises(ObjectMissing) as raised,
    ):
        model.apply(cur, tracked)
    message = str(raised.value)
    missing = sorted(str(c.id) for c in unsaved)
    assert message.startswith("5 customer object(s) not in their read model yet: ")
    assert message.endswith(", ".join(missing[:NAMED_MISSING]) + " and 2 more")
    assert not any(str(c.id) in message for c in saved)


def test_a_replay_copy_stores_no_object_but_still_stops_on_a_missing_one(tally: Tally) -> None:
    """Replay never compares the object (``Table.uncompared``), so its scratch copy
    (``rebuilding`` models) stores ``{}`` instead of building it; the rows are otherwise
    the live ones, and an event whose object has no row still stops the batch."""
    project = UUID(int=8)
    saved = [Customer.register(project, f"r{i}", "", "", "EUR") for i in range(3)]
    events = [e for c in saved for e in c.pending_events]
    tally.store.save(*saved)
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    live = events_after(tally.views, tally.schema, project, 0, 100)
    assert len(live) == 3
    assert all(row["object"]["id"] for row in live)
    model = make_models(tally.views, tally.schema, [IntegrationEvents], rebuilding=True)[0]
    ie = table(tally.schema, "integration_events")
    with tally.views.connection() as conn, conn.transaction(force_rollback=True):
        with conn.cursor() as cur:
            conn.execute(sql.SQL("DELETE FROM {}").format(ie))
            model.apply(cur, [(e, row["position"]) for e, row in zip(events, live, strict=True)])
        copied = events_after_on(conn, ie)
        assert [r[:-1] for r in copied] == [
            (r["position"], r["type"], r["object_id"]) for r in live
        ]
        assert all(r[-1] == {} for r in copied)
        missing = Customer.register(project, "gone", "", "", "EUR").collect_events()
        with conn.cursor() as cur, pytest.raises(ObjectMissing):
            model.apply(cur, [(missing[0], 2_000_000)])


def events_after_on(conn: Any, ie: sql.Composable) -> list[tuple[Any, ...]]:
    query = sql.SQL("SELECT position, type, object_id, object FROM {} ORDER BY position")
    return [tuple(r.values()) for r in conn.execute(query.format(ie)).fetchall()]


class _Counting(psycopg.Cursor[Any]):
    """Counts the statements that write ``integration_events``."""

    inserts = 0

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        if b"integration_events" in (query if isinstance(query, bytes) else b""):
            _Counting.inserts += 1
        return super().execute(query, *args, **kwargs)


def test_a_batch_of_two_kinds_is_one_statement_and_a_missing_object_is_named(
    tally: Tally,
) -> None:
    """A deposit's batch (an account and a transaction) is written by one statement, the
    same rows the worker wrote; with one object missing, the stall names its kind."""
    project, txn_id = UUID(int=10), UUID("2f0e8c2a-5b7d-4e1f-9a3c-6d2b8e4f1a7c")
    account = Account.open(project, "two-kinds", "EUR")
    account.deposit(Money(100, "EUR"), txn_id)
    txn = Transaction.begin(
        id=txn_id, project_id=project, kind="deposit", amount=Money(100, "EUR"),
        from_ref="clearing:manual", to_ref=account.ref, complete_now=True,
    )  # fmt: skip
    tally.store.save(account, txn)
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    live = events_after(tally.views, tally.schema, project, 0, 100)
    assert {r["object_kind"] for r in live} == {"account", "transaction"}
    log = tally.store.recorder.select_notifications(1, 1000)
    tracked = [(tally.store.mapper.to_domain_event(n), n.id) for n in log]
    model = make_models(tally.views, tally.schema, [IntegrationEvents])[0]
    ie = table(tally.schema, "integration_events")
    with tally.views.connection() as conn, conn.transaction(force_rollback=True):
        conn.execute(sql.SQL("DELETE FROM {}").format(ie))
        with conn.cursor() as plain_cursor:
            cur = _Counting(conn, row_factory=plain_cursor.row_factory)
            _Counting.inserts = 0
            model.apply(cur, tracked)
        assert _Counting.inserts == 1
        assert events_after_on(conn, ie) == [
            (r["position"], r["type"], r["object_id"], r["object"]) for r in live
        ]
        other = Transaction.begin(
            id=UUID(int=11), project_id=project, kind="deposit", amount=Money(5, "EUR"),
            from_ref="clearing:manual", to_ref=account.ref, complete_now=True,
        )  # fmt: skip
        unsaved = (other.collect_events()[0], 3_000_000)
        conn.execute(sql.SQL("DELETE FROM {}").format(ie))
        with conn.cursor() as cur2, pytest.raises(ObjectMissing, match=r"^1 transaction object"):
            model.apply(cur2, [*tracked, unsaved])
