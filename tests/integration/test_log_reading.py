"""Reading the log in batches (``projections.reading.fetch_notifications``): every pooled
connection that reads a batch plans the statement generically, so that no batch is
planned from statistics taken while the log was shorter (issue 16: such a plan read
every row to the log's end and sorted them)."""

from __future__ import annotations

from typing import Any

from psycopg_pool import PoolTimeout

from api.bootstrap import Tally
from projections.reading import fetch_notifications
from tests.integration.ledger_workload import mixed_workload


def test_every_connection_that_read_a_batch_planned_it_generically(tally: Tally) -> None:
    mixed_workload(tally)
    for start in range(1, 60, 5):  # more reads than the pool has connections
        assert fetch_notifications(tally.store, start, 5)
    pool: Any = tally.store.recorder.datastore.pool
    found: list[tuple[int, int]] = []
    taken: list[Any] = []
    try:
        # Every idle connection of the pool at once (those the reads were handed), so each
        # is asked about its own statements.
        while True:
            try:
                conn = pool.getconn(timeout=1.0)
            except PoolTimeout:
                break
            taken.append(conn)
            row = conn.execute(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                "WHERE statement LIKE '%%starts_with(topic%%'"
            ).fetchone()
            if row is not None:
                found.append((row["generic_plans"], row["custom_plans"]))
    finally:
        for conn in taken:
            pool.putconn(conn)
    assert found, "no pooled connection holds the batch statement"
    assert all(generic >= 1 and custom == 0 for generic, custom in found), found
