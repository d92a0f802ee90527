"""Replay's two lanes: which read models each rebuilds and compares, that a lane runs
its jobs in order and stops at its first failure, and that the failure reported is the
one a rebuild on one session would have met first, whichever thread was faster."""

from __future__ import annotations

import threading
from typing import Any, cast

import psycopg
import pytest

from projections.applying import ProjectionFailed
from projections.registry import PROJECTIONS
from projections.replay import ORDER
from projections.replay_lanes import SECOND_LANE, Lane, settle, split
from projections.tables import TABLES

NO_CONNECTION = cast(psycopg.Connection[Any], None)  # the jobs here use none


def test_each_lane_holds_every_read_model_its_own_ones_read() -> None:
    for plan in split(PROJECTIONS):
        names = {cls.name for cls in plan.classes}
        for cls in plan.classes:
            assert cls.reads <= names, (cls.name, cls.reads - names)


def test_every_read_model_is_rebuilt_and_every_table_compared_by_exactly_one_lane() -> None:
    main, second = split(PROJECTIONS)
    assert {cls.name for cls in main.classes} | SECOND_LANE == set(ORDER)
    assert not {cls.name for cls in main.classes} & SECOND_LANE
    assert main.compares | second.compares == {t.name for t in TABLES}
    assert not main.compares & second.compares
    assert second.compares == {"journal_entries", "postings", "system_accounts"}
    # A lane makes a scratch copy of every table it writes or compares.
    for plan in (main, second):
        written = {t for cls in plan.classes for t in cls.tables}
        assert not (written | plan.compares) & plan.skips
    # The second lane needs no copy of the tables only the main lane's read models write.
    assert {"integration_events", "accounts", "customers"} <= second.skips
    assert "transactions" not in second.skips


def test_a_lane_runs_its_jobs_in_order_and_skips_those_after_a_failure() -> None:
    done: list[tuple[int, str]] = []

    def job(n: int, fail: bool = False) -> Any:
        def run(conn: psycopg.Connection[Any]) -> None:
            done.append((n, threading.current_thread().name))
            if fail:
                raise RuntimeError(f"job {n}")

        return run

    lane = Lane(NO_CONNECTION, [], "test")
    try:
        for n in range(5):
            lane.submit(n, job(n, fail=n == 2))
        lane.wait()
    finally:
        lane.close()
    assert [n for n, _ in done] == [0, 1, 2]
    assert {name for _, name in done} == {"tally-replay-test"}
    assert lane.failure is not None
    assert (lane.failure.batch, str(lane.failure.error)) == (2, "job 2")


def _failing(batch: int, error: BaseException) -> Lane:
    def run(conn: psycopg.Connection[Any]) -> None:
        raise error

    lane = Lane(NO_CONNECTION, [], f"fails-{batch}")
    lane.submit(batch, run)
    return lane


def _settled(*lanes: Lane) -> BaseException:
    try:
        with pytest.raises(BaseException) as raised:
            settle(lanes, ORDER)
        return raised.value
    finally:
        for lane in lanes:
            lane.close()


def test_the_failure_reported_is_the_earliest_batch_then_the_read_model_applied_first() -> None:
    journal = ProjectionFailed("journal", 40, RuntimeError("journal"))
    catalog = ProjectionFailed("catalog", 50, RuntimeError("catalog"))
    transactions = ProjectionFailed("transactions", 45, RuntimeError("transactions"))
    # One batch: the read model a single session applies first, whichever lane holds it.
    assert _settled(_failing(3, journal), _failing(3, transactions)) is transactions
    assert _settled(_failing(3, transactions), _failing(3, journal)) is transactions
    assert ORDER.index("journal") < ORDER.index("catalog")
    assert _settled(_failing(3, catalog), _failing(3, journal)) is journal
    # An earlier batch comes first, whatever its read model.
    assert _settled(_failing(2, catalog), _failing(3, transactions)) is catalog
    # An error that is no read model's (a lost connection) comes before them in its batch.
    lost = psycopg.OperationalError("connection lost")
    assert _settled(_failing(3, journal), _failing(3, lost)) is lost


def test_lanes_without_a_failure_settle_quietly() -> None:
    lanes = [Lane(NO_CONNECTION, [], "a"), Lane(NO_CONNECTION, [], "b")]
    ran: list[str] = []
    try:
        for name, lane in zip("ab", lanes, strict=True):
            lane.submit(0, lambda conn, name=name: ran.append(name))
        settle(lanes, ORDER)
    finally:
        for lane in lanes:
            lane.close()
    assert sorted(ran) == ["a", "b"]
