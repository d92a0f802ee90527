"""Replay rebuilds every read model from the log and finds any difference with the live
ones, including while the live worker keeps projecting new writes."""

from __future__ import annotations

import threading

import psycopg
import pytest

from api.bootstrap import Tally
from commands import messages as m
from commands.bus import Context
from projections.replay import ReplayBusy, replay
from projections.runner import ProjectionWorker, wait_for_position
from projections.schema import TABLES
from tests.integration.test_projections import Driver, mixed_workload


def _head(tally: Tally) -> int:
    head = tally.store.recorder.max_notification_id()
    assert head is not None
    return head


def _schemas(tally: Tally) -> set[str]:
    with psycopg.connect(tally.target.url) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace").fetchall()
    return {r[0] for r in rows}


def test_a_worker_stopped_and_restarted_mid_stream_ends_equal_to_a_replay(tally: Tally) -> None:
    worker = ProjectionWorker(tally.store, tally.views, tally.schema, batch_size=3)
    worker.start()
    world = mixed_workload(tally)
    assert wait_for_position(tally.views, tally.schema, _head(tally), 10.0)
    worker.stop()
    mixed_workload(tally, world, part=1)  # written while no worker runs
    assert worker.position() < _head(tally)
    restarted = ProjectionWorker(tally.store, tally.views, tally.schema, batch_size=3)
    restarted.start()
    try:
        assert wait_for_position(tally.views, tally.schema, _head(tally), 10.0)
    finally:
        restarted.stop()
    report = replay(tally.store, tally.views, tally.schema, progress=False)
    assert report.ok, report.summary()
    assert report.events == _head(tally)
    assert report.position == _head(tally)
    counts = {t.table: (t.live_rows, t.replayed_rows) for t in report.tables}
    assert set(counts) == {t.name for t in TABLES}
    assert counts["accounts"] == (5, 5)
    assert counts["journal_entries"][0] > 20
    assert "OK" in report.summary()


def test_replay_reports_a_corrupted_live_balance(tally: Tally) -> None:
    world = mixed_workload(tally)
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    with tally.views.connection() as conn:
        conn.execute(
            f"UPDATE {tally.schema}.accounts SET ledger_balance = ledger_balance + 1 WHERE id = %s",
            (world.accounts["alice"],),
        )
    report = replay(tally.store, tally.views, tally.schema, progress=False)
    assert not report.ok
    differing = {t.table: (t.only_live, t.only_replayed) for t in report.tables if t.differences}
    assert differing == {"accounts": (1, 1)}
    assert "DIFFERENCES FOUND" in report.summary()
    assert f"id={world.accounts['alice']}: ledger_balance live" in report.summary()


def test_replay_reports_a_missing_live_row(tally: Tally) -> None:
    mixed_workload(tally)
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    with tally.views.connection() as conn:
        conn.execute(
            f"DELETE FROM {tally.schema}.postings WHERE ctid IN "
            f"(SELECT ctid FROM {tally.schema}.postings LIMIT 1)"
        )
    report = replay(tally.store, tally.views, tally.schema, progress=False)
    differing = {t.table: (t.only_live, t.only_replayed) for t in report.tables if t.differences}
    assert differing == {"postings": (0, 1)}


def test_replay_matches_while_the_worker_projects_concurrent_writes(tally: Tally) -> None:
    world = mixed_workload(tally)
    worker = ProjectionWorker(tally.store, tally.views, tally.schema, batch_size=4)
    worker.start()
    driver = Driver(tally, world)
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.is_set():
            driver.deposit("bob", 1)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        assert wait_for_position(tally.views, tally.schema, _head(tally), 10.0)
        report = replay(tally.store, tally.views, tally.schema, progress=False)
    finally:
        stop.set()
        writer.join()
        worker.stop()
    assert report.ok, report.summary()
    assert report.position <= report.head


def test_replay_drops_its_scratch_schema_and_runs_once_at_a_time(tally: Tally) -> None:
    mixed_workload(tally)
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    assert replay(tally.store, tally.views, tally.schema, progress=False).ok
    assert f"{tally.schema}_replay" not in _schemas(tally)
    with psycopg.connect(tally.target.url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"tally-replay:{tally.schema}",))
        with pytest.raises(ReplayBusy):
            replay(tally.store, tally.views, tally.schema, progress=False)


def test_replay_of_a_log_the_worker_never_read_compares_empty_read_models(tally: Tally) -> None:
    world = mixed_workload(tally)
    tally.execute(m.FreezeAccount(account_id=world.accounts["bob"]), Context(world.project_id, "k"))
    report = replay(tally.store, tally.views, tally.schema, progress=False)
    # Replay compares at the live position (0 here): nothing was replayed or differs.
    assert report.ok
    assert (report.events, report.position) == (0, 0)
    assert report.head == _head(tally)
