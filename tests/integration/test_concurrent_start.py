"""Several processes (server workers, a CLI command) starting on one schema at once: the
event store's tables, the read models' tables and the bus's append function are each
created once, and no start fails on another's DDL."""

from __future__ import annotations

import threading

import pytest

from api.bootstrap import NO_PROJECT, Tally, build
from api.settings import Settings
from commands import messages as m
from commands.bus import Context, Happened

STARTS = 4


@pytest.mark.fresh_schema
@pytest.mark.parametrize("attempt", range(3))
def test_starts_on_a_new_schema_at_once_all_succeed(settings: Settings, attempt: int) -> None:
    """Postgres's CREATE ... IF NOT EXISTS is not atomic: run side by side, one of two
    creations of the same table can fail with 'tuple concurrently updated' (it did,
    killing one of two `tally serve` workers, and so the server)."""
    started: list[Tally] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(STARTS)

    def start() -> None:
        barrier.wait()
        try:
            started.append(build(settings))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(STARTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert not errors, errors
        assert len(started) == STARTS
        # Every one of them can write: the first write defines the append function.
        outcomes = [
            tally.execute(m.CreateProject(name=f"start-{i}"), Context(NO_PROJECT, "test"))
            for i, tally in enumerate(started)
        ]
        assert [outcome.happened for outcome in outcomes] == [Happened.CREATED] * STARTS
    finally:
        for tally in started:
            tally.close()
