"""The subscription scheduler on real Postgres: stopped part way (an exception, a killed
process) and run again, or run by two processes at once, it renews every subscription
exactly once per elapsed period."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from adapters.clock import FixedClock
from api.bootstrap import NO_PROJECT, Tally, build
from api.scheduler import ACTOR, Scheduler, idempotency_key
from api.settings import Settings
from commands import messages as m
from commands.bus import Context
from projections.runner import ProjectionWorker
from tests.plans import monthly_plan

START = datetime(2030, 1, 31, 9, tzinfo=UTC)
# Jan 31 + 95 days is May 6: the periods ending Feb 28, Mar 31 and Apr 30 have elapsed.
ELAPSED = timedelta(days=95)
RENEWALS = 3


class Crash(Exception):
    """Stands for the process dying between two subscriptions."""


def populate(tally: Tally, count: int) -> tuple[UUID, list[UUID]]:
    """A project with ``count`` monthly subscriptions started at the clock's now, plus
    one canceled and one trialing past its trial (which the scheduler also handles)."""
    made = tally.execute(m.CreateProject(name="p"), Context(NO_PROJECT, "cli"))
    project_id = UUID(made.body["project"]["id"])
    ctx = Context(project_id, "test")
    price = monthly_plan(
        lambda c: tally.execute(c, ctx).body, "PRO", 1000, lookup_key="pro_monthly"
    )
    subs: list[UUID] = []
    for i in range(count):
        customer = tally.execute(m.RegisterCustomer(external_id=f"u{i}", currency="EUR"), ctx)
        created = tally.execute(
            m.CreateSubscription(
                customer_id=UUID(customer.body["customer"]["id"]),
                items=[m.SubscriptionItem(price_id=price)],
            ),
            ctx,
        )
        subs.append(UUID(created.body["subscription"]["id"]))
    return project_id, subs


def catch_up(tally: Tally) -> None:
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()


def renewals(tally: Tally, sub_id: UUID) -> list[Any]:
    return [e for e in tally.store.events.get(sub_id) if type(e).__name__ == "Renewed"]


def assert_renewed_exactly_once_per_period(tally: Tally, subs: list[UUID]) -> None:
    for sub_id in subs:
        renewed = renewals(tally, sub_id)
        assert [e.period_index for e in renewed] == list(range(1, RENEWALS + 1)), sub_id
        assert {getattr(e, "issued_by", None) for e in renewed} == {ACTOR}


def test_scheduler_stopped_part_way_and_run_again_renews_each_period_once(
    settings: Settings,
) -> None:
    clock = FixedClock(START)
    tally = build(settings, clock=clock)
    try:
        _, subs = populate(tally, 30)
        clock.advance(ELAPSED)
        catch_up(tally)

        done: list[UUID] = []

        def crash_after_ten(sub_id: UUID) -> None:
            done.append(sub_id)
            if len(done) == 10:
                raise Crash

        with pytest.raises(Crash):
            Scheduler(tally, on_processed=crash_after_ten).run_once()
        # The scheduler works on several subscriptions at once, so those already in flight
        # when the crash came may have finished too; none was started after it.
        renewed = sum(len(renewals(tally, s)) for s in subs)
        assert renewed % RENEWALS == 0
        finished = renewed // RENEWALS
        assert 10 <= finished < 30

        # The read model has not moved on (as after a crash): the subscriptions done are
        # offered again under the same keys, and answered from their first run.
        again = Scheduler(tally).run_once()
        assert again.due == 30
        assert again.replayed == finished
        assert again.steps == {"renewed": (30 - finished) * RENEWALS}
        assert_renewed_exactly_once_per_period(tally, subs)

        catch_up(tally)
        head = tally.store.recorder.max_notification_id()
        assert Scheduler(tally).run_once().due == 0
        assert tally.store.recorder.max_notification_id() == head
    finally:
        tally.close()


def test_two_schedulers_at_once_renew_each_period_once(settings: Settings) -> None:
    clock = FixedClock(START)
    # Two Tallys on one schema stand for two server processes: separate buses and caches.
    first = build(settings, clock=clock)
    second = build(settings, clock=clock)
    try:
        _, subs = populate(first, 24)
        clock.advance(ELAPSED)
        catch_up(first)
        reports: list[Any] = []
        threads = [
            threading.Thread(target=lambda t=t: reports.append(Scheduler(t).run_once()))
            for t in (first, second, first, second)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert len(reports) == 4
        assert sum(r.steps.get("renewed", 0) for r in reports) == 24 * RENEWALS
        assert_renewed_exactly_once_per_period(first, subs)
    finally:
        first.close()
        second.close()


def test_killed_scheduler_process_then_a_second_run_renews_each_period_once(
    settings: Settings, pg_url: str, schema: str
) -> None:
    # The process runs on the system clock, so the subscriptions start 95 days ago.
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0) - ELAPSED - timedelta(days=1))
    tally = build(settings, clock=clock)
    try:
        _, subs = populate(tally, 120)
        catch_up(tally)
        total = len(subs) * RENEWALS
        clean = {k: v for k, v in os.environ.items() if not k.startswith("TALLY_")}
        env = {**clean, "TALLY_DATABASE_URL": pg_url, "TALLY_DB_SCHEMA": schema}
        # Every Postgres session of the process to be killed carries this name (libpq
        # reads PGAPPNAME), so the test can see them wait and end.
        killed = f"tally-killed-{schema}"
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "scheduler", "run", "--interval", "0.05"],
            env={**env, "PGAPPNAME": killed},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(lambda: renewed_in_log(tally) >= total // 3, "a third renewed")
            # Killed with a write in flight, as a kill can come: the event table is
            # locked, so the process's next batch waits in its session, and commits
            # after the kill, when the lock is let go.
            with event_table_locked(tally):
                wait_until(lambda: waiting_on_a_lock(tally, killed), "a batch in flight")
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=30)
                killed_at = renewed_in_log(tally)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=30)
        # So what the log holds at the kill is only a lower bound (a CI run once counted
        # 123 then, and the second run found 6 more committed). Once the killed
        # process's sessions have ended, nothing more of its can commit.
        wait_until(lambda: not sessions_named(tally, killed), "the killed sessions ended")
        before = renewed_in_log(tally)
        assert 0 < killed_at <= before <= total
        assert before % RENEWALS == 0  # a subscription's renewals commit together

        rerun = subprocess.run(
            [sys.executable, "-m", "api.cli", "scheduler", "run", "--once", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert rerun.returncode == 0, rerun.stderr
        # The invariant: every period renewed exactly once, nothing lost, nothing twice;
        # and the second run did exactly what the first had not committed.
        assert_renewed_exactly_once_per_period(tally, subs)
        assert renewed_in_log(tally) == total
        assert json.loads(rerun.stdout)["steps"].get("renewed", 0) == total - before
    finally:
        tally.close()


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


@contextmanager
def event_table_locked(tally: Tally) -> Iterator[None]:
    """Hold the lock every append takes (reads go on) for the block."""
    with psycopg.connect(tally.target.url) as conn:
        table = sql.Identifier(tally.schema, "tally_events")
        conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table))
        yield
        conn.rollback()


def sessions_named(tally: Tally, application_name: str) -> list[str]:
    """The wait event types of the Postgres sessions named ``application_name``."""
    query = "SELECT coalesce(wait_event_type, '') AS w FROM pg_stat_activity "
    query += "WHERE application_name = %s"
    with tally.views.connection() as conn:
        rows: list[Any] = conn.execute(query, [application_name]).fetchall()
    return [str(row["w"]) for row in rows]


def waiting_on_a_lock(tally: Tally, application_name: str) -> bool:
    return "Lock" in sessions_named(tally, application_name)


def renewed_in_log(tally: Tally) -> int:
    """Renewals recorded so far, straight from the event store's table."""
    query = sql.SQL("SELECT count(*) AS n FROM {}.tally_events WHERE topic = %s").format(
        sql.Identifier(tally.schema)
    )
    with tally.views.connection() as conn:
        row: Any = conn.execute(query, ["tally:Subscription.Renewed"]).fetchone()
    return int(row["n"])


def test_a_key_pinned_to_an_early_empty_answer_does_not_stall_the_subscription(
    settings: Settings,
) -> None:
    clock = FixedClock(START)
    tally = build(settings, clock=clock)
    try:
        project_id, subs = populate(tally, 1)
        sub_id = subs[0]
        version: int = tally.store.repository.get(sub_id).version
        # A run under the scheduler's key before anything was due (a host whose clock ran
        # ahead of this one) pins the key to "nothing to do".
        early = tally.execute(
            m.ProcessDueSubscription(subscription_id=sub_id),
            Context(project_id, ACTOR, idempotency_key(sub_id, version)),
        )
        assert early.body["steps"] == []
        clock.advance(ELAPSED)
        catch_up(tally)
        report = Scheduler(tally).run_once()
        assert (report.due, report.replayed) == (1, 1)
        assert report.steps == {"renewed": RENEWALS}
        assert_renewed_exactly_once_per_period(tally, subs)
    finally:
        tally.close()


def test_the_scheduler_announces_a_trials_end_three_days_ahead_once(settings: Settings) -> None:
    clock = FixedClock(START)
    tally = build(settings, clock=clock)
    try:
        project_id, _ = populate(tally, 0)
        ctx = Context(project_id, "test")
        customer = tally.execute(m.RegisterCustomer(external_id="trial", currency="EUR"), ctx)
        catch_up(tally)
        from projections.catalog import prices_by_lookup_key

        [found] = prices_by_lookup_key(tally.views, tally.schema, project_id, "pro_monthly")
        created = tally.execute(
            m.CreateSubscription(
                customer_id=UUID(customer.body["customer"]["id"]),
                items=[m.SubscriptionItem(price_id=UUID(str(found["id"])))],
                trial_days=14,
            ),
            ctx,
        )
        sub_id = UUID(created.body["subscription"]["id"])

        def announced() -> list[Any]:
            events = tally.store.events.get(sub_id)
            return [e for e in events if type(e).__name__ == "TrialEndAnnounced"]

        clock.advance(timedelta(days=10))
        catch_up(tally)
        assert Scheduler(tally).run_once().due == 0  # 4 days before its end: not yet
        clock.advance(timedelta(days=1))
        catch_up(tally)
        assert Scheduler(tally).run_once().steps == {"trial_end_announced": 1}
        assert [e.trial_end for e in announced()] == [START + timedelta(days=14)]
        catch_up(tally)
        assert Scheduler(tally).run_once().due == 0  # announced: not found again
        clock.advance(timedelta(days=3))
        catch_up(tally)
        assert Scheduler(tally).run_once().steps == {"trial_ended": 1}
        assert len(announced()) == 1
    finally:
        tally.close()
