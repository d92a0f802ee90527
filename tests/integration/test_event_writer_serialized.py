"""The writer's serialized transaction (``PostgresEventWriter.serialized``, the bus's
last attempt): its write stays on the held connection, in its transaction; a connection
lost there is an unknown outcome, never a retry elsewhere; and the table lock, which every
tenant's writes need, is bounded in how long it is waited for and held
(``domain/limits/``)."""

from __future__ import annotations

import time
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent

from adapters.event_writer import PostgresEventWriter, event_writer
from api.bootstrap import Tally
from domain.limits import SERIALIZED_HOLD_MS, SERIALIZED_LOCK_WAIT_MS


def _event(originator: UUID) -> list[StoredEvent]:
    return [StoredEvent(originator_id=originator, originator_version=1, topic="t", state=b"{}")]


def _writer(tally: Tally) -> PostgresEventWriter:
    writer = event_writer(tally.store.recorder)
    assert isinstance(writer, PostgresEventWriter)
    return writer


def _killed_between_lock_and_append(writer: PostgresEventWriter, pg_url: str, a: UUID) -> None:
    with writer.serialized():
        held = writer._conn
        assert held is not None
        with psycopg.connect(pg_url, autocommit=True) as killer:
            killer.execute("SELECT pg_terminate_backend(%s)", (held.info.backend_pid,))
        writer.write(_event(a))


def _held_too_long(writer: PostgresEventWriter, a: UUID) -> None:
    with writer.serialized():
        time.sleep(SERIALIZED_HOLD_MS * 1.5 / 1000)
        writer.write(_event(a))


def test_a_connection_lost_inside_the_lock_is_an_unknown_outcome_never_a_write_elsewhere(
    tally: Tally, pg_url: str
) -> None:
    """Before: the write was retried on a new pooled connection, which committed on its
    own outside the lock, and the caller was then told the command failed."""
    writer = _writer(tally)
    a = uuid4()
    try:
        with pytest.raises(OperationalError, match="outcome unknown"):
            _killed_between_lock_and_append(writer, pg_url, a)
        assert not tally.store.recorder.select_events(a)
        # The writer goes on working on a new connection.
        b = uuid4()
        assert len(writer.write(_event(b))) == 1
    finally:
        writer.close()


def test_the_lock_held_past_its_budget_rolls_back_as_a_conflict(tally: Tally) -> None:
    writer = _writer(tally)
    a = uuid4()
    try:
        with pytest.raises(IntegrityError):
            _held_too_long(writer, a)
        assert not tally.store.recorder.select_events(a)
        with writer.serialized():  # within the budget: written, in the transaction
            writer.write(_event(a))
        assert len(tally.store.recorder.select_events(a)) == 1
    finally:
        writer.close()


@pytest.mark.parametrize("psycopg_prepared", [True, False])
def test_a_rolled_back_attempt_leaves_the_pipelined_writes_working(
    tally: Tally, psycopg_prepared: bool
) -> None:
    """psycopg deallocates all of a connection's prepared statements when a transaction
    on it rolls back, once it has prepared one of its own (``existing``'s query): the
    writer's append statement went with them, and the next batch failed with
    InvalidSqlStatementName, answered to its callers as an error (seen under load in
    test_credits_concurrency's impatient instances). Without one of psycopg's, the
    statement stays, and preparing it again would fail as a duplicate."""
    writer = _writer(tally)
    try:
        assert len(writer.write(_event(uuid4()))) == 1  # the append statement is prepared
        if psycopg_prepared:
            assert writer.existing({uuid4()}) == set()
        with pytest.raises(IntegrityError):
            _held_too_long(writer, uuid4())  # rolled back
        b = uuid4()
        assert len(writer.write(_event(b))) == 1
        assert len(tally.store.recorder.select_events(b)) == 1
    finally:
        writer.close()


def test_the_lock_is_waited_for_briefly_then_a_conflict(tally: Tally, pg_url: str) -> None:
    """Someone else holds the table's lock (another process's serialized attempt): this
    one gives up after ``SERIALIZED_LOCK_WAIT_MS``, not the store's 10 s."""
    writer = _writer(tally)
    table = f'"{tally.settings.db_schema}".tally_events'
    try:
        with psycopg.connect(pg_url) as other, other.transaction():
            other.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
            started = time.monotonic()
            with pytest.raises(IntegrityError), writer.serialized():
                pass
            waited_ms = (time.monotonic() - started) * 1000
        assert SERIALIZED_LOCK_WAIT_MS * 0.9 <= waited_ms < SERIALIZED_LOCK_WAIT_MS + 2000
    finally:
        writer.close()
