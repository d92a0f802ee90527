"""The projection worker: bounded waits for a position, wake-up on NOTIFY, one active
worker per schema (advisory lock) and a tracking check that refuses a double apply."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import Tracking

from api.bootstrap import Tally
from commands import messages as m
from commands.bus import Context
from projections import balances
from projections.decoding import FastDecoder
from projections.reading import SKIPPED_TOPIC_PREFIX, decode, fetch_notifications
from projections.replay import replay
from projections.runner import (
    ProjectionWorker,
    TrackingConflict,
    current_position,
    lock_key,
    make_models,
    project_batch,
    wait_for_position,
)
from tests.integration.ledger_workload import Driver, new_project


def _wallet(tally: Tally) -> tuple[Driver, UUID]:
    world = new_project(tally)
    driver = Driver(tally, world)
    return driver, driver.open("alice")


def _deposit(tally: Tally, driver: Driver, account: UUID, amount: int = 10) -> int:
    outcome = tally.execute(
        m.Deposit(account_id=account, amount=amount, currency="EUR"),
        Context(driver.world.project_id, "k"),
    )
    assert outcome.position is not None
    return outcome.position


def _until(condition: Any, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _ledger(tally: Tally, driver: Driver, account: UUID) -> int:
    row = balances.get_account(tally.views, tally.schema, driver.world.project_id, account)
    assert row is not None
    return int(row["ledger_balance"])


def test_wait_for_position_returns_once_the_worker_has_caught_up(tally: Tally) -> None:
    driver, alice = _wallet(tally)
    worker = ProjectionWorker(tally.store, tally.views, tally.schema)
    worker.start()
    try:
        position = _deposit(tally, driver, alice, 250)
        assert wait_for_position(tally.views, tally.schema, position, 10.0)
        assert _ledger(tally, driver, alice) == 250
        assert worker.position() >= position
    finally:
        worker.stop()


def test_wait_for_position_times_out_when_no_worker_has_applied_it(tally: Tally) -> None:
    driver, alice = _wallet(tally)
    position = _deposit(tally, driver, alice)
    started = time.monotonic()
    assert not wait_for_position(tally.views, tally.schema, position, 0.3)
    assert 0.3 <= time.monotonic() - started < 3.0
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    assert wait_for_position(tally.views, tally.schema, position, 0.0)


def test_worker_wakes_on_notify_rather_than_its_poll_interval(tally: Tally) -> None:
    driver, alice = _wallet(tally)
    worker = ProjectionWorker(tally.store, tally.views, tally.schema, poll_interval_s=60.0)
    worker.start()
    try:
        assert _until(lambda: worker.active)
        # Once a first deposit is applied, the worker is listening (it LISTENs before its
        # first batch) and idle soon after; a fixed sleep did not know which.
        assert wait_for_position(tally.views, tally.schema, _deposit(tally, driver, alice), 10)
        position = _deposit(tally, driver, alice)
        started = time.monotonic()
        assert wait_for_position(tally.views, tally.schema, position, 10.0)
        assert time.monotonic() - started < 5.0
    finally:
        worker.stop()


def test_only_one_of_two_workers_applies_events_and_the_other_takes_over(tally: Tally) -> None:
    driver, alice = _wallet(tally)
    bob = driver.open("bob")
    workers = [
        ProjectionWorker(tally.store, tally.views, tally.schema, 5, standby_interval_s=0.1)
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    try:
        assert _until(lambda: any(w.active for w in workers))
        time.sleep(0.3)
        assert sum(w.active for w in workers) == 1
        with ThreadPoolExecutor(8) as pool:
            positions = list(pool.map(lambda i: _deposit(tally, driver, alice, 1), range(80)))
        assert wait_for_position(tally.views, tally.schema, max(positions), 15.0)
        first = next(w for w in workers if w.active)
        first.stop()
        second = next(w for w in workers if w is not first)
        assert _until(lambda: second.active)
        with ThreadPoolExecutor(8) as pool:
            positions = list(pool.map(lambda i: _deposit(tally, driver, bob, 1), range(40)))
        assert wait_for_position(tally.views, tally.schema, max(positions), 15.0)
        assert _ledger(tally, driver, alice) == tally.store.repository.get(alice).ledger == 80
        assert _ledger(tally, driver, bob) == tally.store.repository.get(bob).ledger == 40
    finally:
        for worker in workers:
            worker.stop()


def test_catch_up_defers_to_a_worker_that_holds_the_lock(tally: Tally) -> None:
    driver, alice = _wallet(tally)
    running = ProjectionWorker(tally.store, tally.views, tally.schema)
    running.start()
    try:
        assert _until(lambda: running.active)
        _deposit(tally, driver, alice, 7)
        other = ProjectionWorker(tally.store, tally.views, tally.schema)
        assert other.catch_up(timeout_s=10.0) == 0
        head = tally.store.recorder.max_notification_id()
        assert current_position(tally.views, tally.schema) == head
        assert _ledger(tally, driver, alice) == 7
    finally:
        running.stop()


def test_a_batch_from_a_stale_position_is_refused_and_changes_nothing(tally: Tally) -> None:
    driver, alice = _wallet(tally)
    _deposit(tally, driver, alice, 40)
    assert ProjectionWorker(tally.store, tally.views, tally.schema).catch_up() > 0
    head = tally.store.recorder.max_notification_id()
    assert head is not None
    models = make_models(tally.views, tally.schema)
    events = decode(FastDecoder(tally.store), fetch_notifications(tally.store, 1, 1000))
    stale = {model.name: 0 for model in models}  # as if this worker had missed the others
    with (
        psycopg.connect(tally.target.url, autocommit=True) as conn,
        pytest.raises(TrackingConflict),
        conn.transaction(),
        conn.cursor() as cur,
    ):
        project_batch(cur, tally.schema, models, stale, events, head)
    assert _ledger(tally, driver, alice) == 40
    assert current_position(tally.views, tally.schema) == head


def test_stop_returns_promptly_while_the_worker_is_idle(tally: Tally) -> None:
    worker = ProjectionWorker(tally.store, tally.views, tally.schema, poll_interval_s=60.0)
    worker.start()
    assert _until(lambda: worker.active)
    started = time.monotonic()
    worker.stop()
    assert time.monotonic() - started < 3.0
    name = f"tally-projections-{tally.schema}"
    assert not any(t.name == name for t in threading.enumerate())


def test_process_event_applies_an_event_once_and_the_runner_completes_the_rest(
    tally: Tally,
) -> None:
    driver, alice = _wallet(tally)
    _deposit(tally, driver, alice, 30)
    models = {model.name: model for model in make_models(tally.views, tally.schema)}
    decoder = FastDecoder(tally.store)
    for notification in fetch_notifications(tally.store, 1, 1000):
        if notification.topic.startswith(SKIPPED_TOPIC_PREFIX):
            continue
        tracking = Tracking(models["accounts"].name, notification.id)
        models["accounts"].process_event(decoder(notification), tracking)
        models["accounts"].process_event(decoder(notification), tracking)  # a redelivery
    assert _ledger(tally, driver, alice) == 30
    assert models["accounts"].view.max_tracking_id("accounts") == _head(tally)
    assert current_position(tally.views, tally.schema) == 0  # the others have not run
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    assert current_position(tally.views, tally.schema) == _head(tally)
    assert _ledger(tally, driver, alice) == 30
    assert replay(tally.store, tally.views, tally.schema, progress=False).ok


def _head(tally: Tally) -> int:
    head = tally.store.recorder.max_notification_id()
    assert head is not None
    return head


def test_worker_recovers_when_its_database_connection_is_killed(tally: Tally) -> None:
    driver, alice = _wallet(tally)
    worker = ProjectionWorker(tally.store, tally.views, tally.schema)
    worker.start()
    try:
        assert wait_for_position(tally.views, tally.schema, _deposit(tally, driver, alice), 10)
        with psycopg.connect(tally.target.url, autocommit=True) as admin:
            key = admin.execute("SELECT hashtext(%s)", (lock_key(tally.schema),)).fetchone()
            assert key is not None
            unsigned = key[0] & 0xFFFFFFFFFFFFFFFF  # how pg_locks shows a bigint key
            holder = admin.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = %s AND objid = %s",
                (unsigned >> 32, unsigned & 0xFFFFFFFF),
            ).fetchone()
            assert holder is not None
            # With a timeout, it returns once the session has ended, not as it is signalled.
            ended = admin.execute("SELECT pg_terminate_backend(%s, 10000)", (holder[0],))
            assert ended.fetchone() == (True,)
        position = _deposit(tally, driver, alice)
        assert wait_for_position(tally.views, tally.schema, position, 15.0)
        assert _ledger(tally, driver, alice) == 20
    finally:
        worker.stop()


def test_a_worker_whose_connection_postgres_ended_says_so_in_one_line_and_goes_on(
    tally: Tally, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A Postgres restart is expected in operation: the worker logs one warning, with no
    traceback, starts again from its tracked position and applies what came meanwhile."""
    driver, alice = _wallet(tally)
    connections: list[psycopg.Connection[Any]] = []
    worker = ProjectionWorker(tally.store, tally.views, tally.schema, poll_interval_s=0.2)
    connect = worker._connect

    def kept_connect() -> psycopg.Connection[Any]:
        conn = connect()
        connections.append(conn)
        return conn

    monkeypatch.setattr(worker, "_connect", kept_connect)
    worker.start()
    try:
        assert _until(lambda: worker.active)
        assert wait_for_position(tally.views, tally.schema, _deposit(tally, driver, alice), 10)
        with psycopg.connect(tally.target.url, autocommit=True) as admin:
            # With a timeout, it returns once the session has ended: the worker cannot
            # apply the next deposit on it before it dies.
            ended = admin.execute(
                "SELECT pg_terminate_backend(%s, 10000)", (connections[0].info.backend_pid,)
            )
            assert ended.fetchone() == (True,)
        position = _deposit(tally, driver, alice)
        assert wait_for_position(tally.views, tally.schema, position, 15)
        assert _ledger(tally, driver, alice) == 20
        assert len(connections) >= 2
    finally:
        worker.stop()
    lost = [r for r in caplog.records if "lost its connection" in r.getMessage()]
    assert lost
    assert all(r.levelname == "WARNING" and r.exc_info is None for r in lost)
    assert not [r for r in caplog.records if "failed; restarting" in r.getMessage()]
