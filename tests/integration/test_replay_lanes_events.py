"""Replay's two lanes apply the events of ``projections.replay_lanes.SHARED`` as the same
objects, which holds only while every read model that handles them leaves them as they
were decoded: applying a ledger log and an invoicing log (deposits, transfers, holds,
failures, reversals, wallet and provider payments) to every read model changes none."""

from __future__ import annotations

import copy

import psycopg
import pytest

from api.bootstrap import Tally
from domain.transactions import Transaction
from projections.decoding import FastDecoder
from projections.reading import decode_rows, fetch_rows
from projections.replay_lanes import SHARED
from projections.runner import make_models, project_batch, read_positions
from tests.integration.invoicing_workload import T0, invoicing_workload
from tests.integration.ledger_workload import mixed_workload


def test_every_read_model_leaves_a_ledger_logs_shared_events_as_decoded(tally: Tally) -> None:
    world = mixed_workload(tally)
    mixed_workload(tally, world, part=1)
    assert _applied_shared_kinds(tally) == SHARED  # every kind is tried


@pytest.mark.fixed_clock(T0)
def test_every_read_model_leaves_an_invoicing_logs_shared_events_as_decoded(
    tally: Tally,
) -> None:
    invoicing_workload(tally)
    kinds = _applied_shared_kinds(tally)
    assert {Transaction.Initiated, Transaction.Completed} <= kinds  # wallet and provider


def _applied_shared_kinds(tally: Tally) -> set[type]:
    """Apply the whole log to every read model (rolled back); check that the shared
    events are as decoded after it, and return their kinds."""
    rows = fetch_rows(tally.store, 1, 100_000)
    events = decode_rows(FastDecoder(tally.store), rows)
    shared = [event for event, _ in events if type(event) in SHARED]
    decoded = [copy.deepcopy(event.__dict__) for event in shared]
    models = make_models(tally.views, tally.schema)
    # A connection of tuple rows, as the worker's and replay's are.
    with (
        psycopg.connect(tally.target.url) as conn,
        conn.cursor() as cur,
        conn.transaction() as applied,
    ):
        positions = read_positions(cur, tally.schema, models)
        after = project_batch(cur, tally.schema, models, positions, events, rows[-1][0])
        assert set(after.values()) == {rows[-1][0]}
        raise psycopg.Rollback(applied)  # only the events matter here
    assert [event.__dict__ for event in shared] == decoded
    return {type(event) for event in shared}
