"""Progress across processes: a worker made with ``notify_progress`` announces each
batch's position at its commit, and a ``ProgressListener`` in a process without a worker
hands it to that process's waiting readers (``projections.progress``)."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from api.bootstrap import Tally
from projections import registry
from projections.progress import ProgressListener, notify, parse
from projections.runner import ProjectionWorker
from tests.integration.test_projections_worker import _deposit, _wallet


def _until(condition: Any, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_payloads_read_back_and_anything_else_is_ignored() -> None:
    assert parse("42") == (42, False)
    assert parse("7:lower") == (7, True)
    for junk in ("", "x", "-1", "3:higher", "1.5"):
        assert parse(junk) is None


def test_a_listener_publishes_what_another_processs_worker_announces(
    tally: Tally, pg_url: str
) -> None:
    # The listener's key differs from the worker's pool, as a second process's would:
    # only the NOTIFY can bring the worker's progress to it.
    listener_conninfo = f"{pg_url}{'&' if '?' in pg_url else '?'}application_name=listener"
    key = (listener_conninfo, tally.schema)
    listener = ProgressListener(listener_conninfo, tally.schema)
    listener.start()
    worker = ProjectionWorker(
        tally.store, tally.views, tally.schema, notify_progress=True, poll_interval_s=0.05
    )
    try:
        driver, account = _wallet(tally)
        # Listening is asynchronous: announce until the listener hears, then go on.
        with psycopg.connect(pg_url, autocommit=True) as conn, conn.cursor() as cur:
            assert _until(
                lambda: notify(cur, tally.schema, 1, False) or registry._progress.get(key) == 1
            )
        position = _deposit(tally, driver, account)
        worker.start()
        assert _until(lambda: registry._progress.get(key, 0) >= position)
    finally:
        worker.stop()
        listener.stop()


def test_a_worker_without_notify_progress_announces_nothing(tally: Tally, pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'LISTEN "tally_progress_{tally.schema}"')
        driver, account = _wallet(tally)
        _deposit(tally, driver, account)
        ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
        assert list(conn.notifies(timeout=0.5)) == []
        ProjectionWorker(tally.store, tally.views, tally.schema, notify_progress=True).catch_up()
        # Nothing new to apply: nothing to announce.
        assert list(conn.notifies(timeout=0.5)) == []
        _deposit(tally, driver, account)
        ProjectionWorker(tally.store, tally.views, tally.schema, notify_progress=True).catch_up()
        heard = [parse(n.payload) for n in conn.notifies(timeout=2, stop_after=1)]
        assert heard == [(tally.store.recorder.max_notification_id(), False)]
