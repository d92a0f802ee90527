"""A read model's name keys its tracking row: a subclass of a read model keeps its
parent's name unless it sets one (``ReadModel.__init_subclass__``). The library names a
projection after its class otherwise, so a subclass of a subclass of ``Transactions``
tracked itself as ``Deeper`` in a pipelined rebuild and the ``transactions`` row stayed
at 0 (the tests' direct subclasses set the name themselves, which hid it)."""

from __future__ import annotations

import psycopg
from psycopg import sql

from api.bootstrap import Tally
from projections.decoding import FastDecoder
from projections.reading import read_batches
from projections.registry import PROJECTIONS, make_models, read_positions
from projections.replay import replay
from projections.replay_applying import apply_batches
from projections.schema import TRACKING_TABLE
from projections.transactions import Transactions
from tests.integration.gated import head
from tests.integration.ledger_workload import Driver, new_project


class Direct(Transactions):
    """A subclass that does not set ``name``, as a test's read model might not."""


class Deeper(Direct):
    """A subclass of that subclass."""


def test_subclasses_of_a_read_model_keep_its_name() -> None:
    assert (Direct.name, Deeper.name) == ("transactions", "transactions")


def test_a_pipelined_rebuild_through_a_subclass_of_a_subclass_advances_its_tracking_row(
    tally: Tally,
) -> None:
    driver = Driver(tally, new_project(tally))
    driver.open("alice")
    for amount in range(1, 10):
        driver.deposit("alice", amount)
    classes = [Deeper if cls is Transactions else cls for cls in PROJECTIONS]
    models = make_models(tally.views, tally.schema, classes)
    with psycopg.connect(tally.target.url, autocommit=True) as conn:
        with conn.cursor() as cur:
            positions = read_positions(cur, tally.schema, models)
        batches = read_batches(tally.store, FastDecoder(tally.store), 0, 4, stop=head(tally))
        reached = apply_batches(conn, tally.schema, models, positions, batches, lambda _: None)
        rows = dict(
            conn.execute(
                sql.SQL("SELECT name, position FROM {}").format(
                    sql.Identifier(tally.schema, TRACKING_TABLE)
                )
            ).fetchall()
        )
    assert reached["transactions"] == rows["transactions"] == head(tally)
    assert set(rows) == {cls.name for cls in PROJECTIONS}
    report = replay(tally.store, tally.views, tally.schema, progress=False)
    assert report.ok, report.summary()
