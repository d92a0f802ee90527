"""Replay rebuilds every read model from the log and finds any difference with the live
ones, including while the live worker keeps projecting new writes."""

from __future__ import annotations

import threading
from uuid import uuid4

import psycopg
import pytest

from api.bootstrap import Tally
from commands import messages as m
from commands.bus import Context
from domain.transactions import Transaction
from projections.applying import ProjectionFailed
from projections.replay import ReplayBusy, replay
from projections.runner import ProjectionWorker, make_models, read_positions, wait_for_position
from projections.tables import TABLES
from tests.integration.ledger_workload import Driver, mixed_workload


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


def test_replay_finds_changed_extra_missing_and_rekeyed_rows_in_several_read_models(
    tally: Tally,
) -> None:
    """Every kind of difference, in tables replay fills with their keys in place and in
    tables it keys only after the rebuild (``APPEND_ONLY``), each counted on the side
    that has the row and named in the summary."""
    world = mixed_workload(tally)
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    s = tally.schema
    active = world.holds["p0active"]
    with tally.views.connection() as conn:
        # A changed value in an append-only table.
        conn.execute(
            f"UPDATE {s}.journal_entries SET kind = 'tampered' "
            f"WHERE id = (SELECT min(id::text)::uuid FROM {s}.journal_entries)"
        )
        # A NULL made a value (an active hold has no transaction yet): NULL-safe.
        conn.execute(
            f"UPDATE {s}.holds SET transaction_id = gen_random_uuid() "
            "WHERE account_id = %s AND hold_id = %s",
            (world.accounts["alice"], active),
        )
        # An extra live row.
        conn.execute(
            f"INSERT INTO {s}.transaction_accounts SELECT account_id, gen_random_uuid(), "
            f"project_id, position FROM {s}.transaction_accounts LIMIT 1"
        )
        # A missing live row.
        conn.execute(f"DELETE FROM {s}.transactions WHERE id = %s", (world.txns["p0failed"],))
        # A row whose key changed: extra under the new key, missing under the old one.
        conn.execute(
            f"UPDATE {s}.postings SET seq = seq + 100 "
            f"WHERE (entry_id, seq) = (SELECT entry_id, seq FROM {s}.postings LIMIT 1)"
        )
        # A changed value in a table with an upsert.
        conn.execute(
            f"UPDATE {s}.system_accounts SET balance = balance - 1 "
            f"WHERE account = (SELECT min(account) FROM {s}.system_accounts)"
        )
    report = replay(tally.store, tally.views, tally.schema, progress=False)
    assert not report.ok
    differing = {t.table: (t.only_live, t.only_replayed) for t in report.tables if t.differences}
    assert differing == {
        "journal_entries": (1, 1),
        "holds": (1, 1),
        "transaction_accounts": (1, 0),
        "transactions": (0, 1),
        "postings": (1, 1),
        "system_accounts": (1, 1),
    }
    samples = {t.table: t.samples for t in report.tables if t.differences}
    assert len(samples["journal_entries"]) == 1
    assert "kind live tampered != replayed" in samples["journal_entries"][0]
    assert f"hold_id={active}: transaction_id live" in samples["holds"][0]
    assert "replayed None" in samples["holds"][0]
    assert samples["transaction_accounts"][0].endswith(": only in the live table")
    assert samples["transactions"] == [f"id={world.txns['p0failed']}: missing from the live table"]
    assert sorted(line.split(": ")[1] for line in samples["postings"]) == [
        "missing from the live table",
        "only in the live table",
    ]
    assert "balance live" in samples["system_accounts"][0]
    assert report.summary().count("rows differ") == 6


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


def test_replay_leaves_no_scratch_schema_and_runs_once_at_a_time(tally: Tally) -> None:
    mixed_workload(tally)
    ProjectionWorker(tally.store, tally.views, tally.schema).catch_up()
    before = _schemas(tally)
    assert replay(tally.store, tally.views, tally.schema, progress=False).ok
    # Its tables are temporary: no schema of its own (as earlier versions made) is left.
    assert f"{tally.schema}_replay" not in _schemas(tally)
    assert {s for s in _schemas(tally) - before if s.startswith(tally.schema)} == set()
    # The lock is let go when a replay returns, not when its session has ended.
    assert replay(tally.store, tally.views, tally.schema, progress=False).ok
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


def test_replay_names_the_journal_when_its_rows_fail_in_the_pipelines_thread(
    tally: Tally,
) -> None:
    """An entry whose amounts do not fit the journal's ``int8`` column fails when its
    COPY runs, in the pipeline's thread (``projections.replay_applying``), after later
    read models have queued their share: replay still stops there, and the error names
    the journal and the event, as applying each batch at once did."""
    world = mixed_workload(tally)
    wallet = f"wallet:{world.accounts['alice']}"
    huge = 2**70  # past int8: the decoder leaves such a document to the library
    clearing = "clearing:manual"
    bad = Transaction(
        id=uuid4(), project_id=world.project_id, kind="deposit", amount=1, currency="EUR",
        from_ref=clearing, to_ref=wallet, state="completed", description="", external_ref="",
        entry=[{"account": wallet, "amount": huge}, {"account": clearing, "amount": -huge}],
    )  # fmt: skip
    tally.store.save(bad)
    poison = _head(tally)  # the one event the save recorded
    mixed_workload(tally, world, part=1)
    with tally.views.connection() as conn, conn.cursor() as cur:
        # As if the live worker had applied the whole log: replay rebuilds up to there.
        read_positions(cur, tally.schema, make_models(tally.views, tally.schema))
        cur.execute(f"UPDATE {tally.schema}.projection_tracking SET position = %s", (_head(tally),))
    with pytest.raises(ProjectionFailed) as failed:
        replay(tally.store, tally.views, tally.schema, progress=False)
    assert (failed.value.name, failed.value.position) == ("journal", poison)
    assert failed.value.error.startswith("OverflowError"), failed.value.error
