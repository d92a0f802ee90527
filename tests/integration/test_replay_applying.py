"""Replay's rebuild overlaps Python and Postgres (``projections.replay_applying``): the
read models build the next batch while the last one's statements run, and the rebuild
still ends where applying each batch at once ends."""

from __future__ import annotations

import threading

import psycopg

from api.bootstrap import Tally
from projections.base import ReadModel
from projections.decoding import FastDecoder
from projections.reading import Batch, read_batches
from projections.registry import PROJECTIONS, make_models, read_positions
from projections.replay import replay
from projections.replay_applying import apply_batches
from projections.runner import ProjectionWorker
from projections.transactions import Transactions
from tests.integration import gated
from tests.integration.gated import Gated
from tests.integration.ledger_workload import Driver, mixed_workload, new_project

GATE = 7_160_417  # an advisory lock key no other code takes


def test_the_rebuild_builds_the_next_batch_while_the_last_ones_statements_run(
    tally: Tally,
) -> None:
    """Failed before the pipeline (``pipelined=False`` is how each batch was applied):
    the third batch was built only after the second's statements had run, which the
    lock held up until the wait below gave up."""
    driver = Driver(tally, new_project(tally))
    driver.open("alice")
    for amount in range(1, 13):
        driver.deposit("alice", amount)
    Gated.reset(GATE)
    classes = [Gated if cls is Transactions else cls for cls in PROJECTIONS]
    models: list[ReadModel] = make_models(tally.views, tally.schema, classes)
    applied: list[int] = []
    with (
        psycopg.connect(tally.target.url, autocommit=True) as conn,
        psycopg.connect(tally.target.url, autocommit=True) as gate,
    ):
        with conn.cursor() as cur:
            positions = read_positions(cur, tally.schema, models)
        batches = read_batches(tally.store, FastDecoder(tally.store), 0, 4, stop=gated.head(tally))

        def rebuild() -> None:
            def done(batch: Batch) -> None:
                applied.append(batch.last)

            apply_batches(conn, tally.schema, models, positions, batches, done)

        gate.execute("SELECT pg_advisory_lock(%s)", (GATE,))
        rebuilding = threading.Thread(target=rebuild)
        rebuilding.start()
        try:
            built_meanwhile = Gated.third.wait(timeout=10.0)
        finally:
            gate.execute("SELECT pg_advisory_unlock(%s)", (GATE,))
            rebuilding.join(timeout=30.0)
    assert built_meanwhile
    assert not rebuilding.is_alive()
    assert applied[-1] == gated.head(tally)
    # What the pipeline committed is what the live worker builds batch by batch.
    report = replay(tally.store, tally.views, tally.schema, progress=False)
    assert report.ok, report.summary()
    assert report.position == gated.head(tally)


def test_a_replay_over_many_small_batches_equals_the_live_read_models(tally: Tally) -> None:
    world = mixed_workload(tally)
    mixed_workload(tally, world, part=1)
    ProjectionWorker(tally.store, tally.views, tally.schema, batch_size=3).catch_up()
    report = replay(tally.store, tally.views, tally.schema, progress=False, batch_size=5)
    assert report.ok, report.summary()
    assert report.events == gated.head(tally)
