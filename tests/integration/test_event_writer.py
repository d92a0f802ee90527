"""The bus's Postgres writer: the arrays it builds itself reach Postgres as the values
they were, and a conflict writes nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.rows import tuple_row

from adapters.binary_arrays import (
    bigint_array,
    bytea_array,
    register_dumpers,
    text_array,
    uuid_array,
)
from adapters.event_writer import PostgresEventWriter, append_function, event_writer
from api.bootstrap import Tally


@pytest.fixture(scope="module")
def conn(pg_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(pg_url, autocommit=True, row_factory=tuple_row) as c:
        register_dumpers(c)
        yield c


def _round_trip(
    conn: psycopg.Connection[tuple[object, ...]], sql_type: str, array: object
) -> list[object]:
    rows = conn.execute(f"SELECT unnest(%b::{sql_type}[])", (array,)).fetchall()
    return [row[0] for row in rows]


@settings(max_examples=60, deadline=None)
@given(
    uuids=st.lists(st.uuids(), max_size=5),
    ints=st.lists(st.integers(-(2**63), 2**63 - 1), max_size=5),
    texts=st.lists(
        st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")),
        max_size=5,
    ),
    blobs=st.lists(st.binary(max_size=300), max_size=5),
)
def test_arrays_arrive_as_the_values_they_were(
    conn: psycopg.Connection[tuple[object, ...]],
    uuids: list[UUID],
    ints: list[int],
    texts: list[str],
    blobs: list[bytes],
) -> None:
    assert _round_trip(conn, "uuid", uuid_array(uuids)) == uuids
    assert _round_trip(conn, "bigint", bigint_array(ints)) == ints
    assert _round_trip(conn, "text", text_array(texts)) == texts
    assert _round_trip(conn, "bytea", bytea_array(blobs)) == blobs


def test_string_ids_are_sent_as_uuids(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    value = uuid4()
    assert _round_trip(conn, "uuid", uuid_array([str(value), value])) == [value, value]


def _events(*pairs: tuple[UUID, int]) -> list[StoredEvent]:
    return [
        StoredEvent(originator_id=i, originator_version=v, topic="t:É", state=b"\x00{}")
        for i, v in pairs
    ]


def test_a_batch_is_written_whole_or_not_at_all(tally: Tally) -> None:
    writer = event_writer(tally.store.recorder)
    assert isinstance(writer, PostgresEventWriter)
    a, b = uuid4(), uuid4()
    try:
        ids = writer.write(_events((a, 1), (a, 2), (b, 1)))
        assert len(ids) == 3
        assert ids == sorted(ids)
        stored = tally.store.recorder.select_events(a)
        assert [(e.originator_version, e.topic, e.state) for e in stored] == [
            (1, "t:É", b"\x00{}"),
            (2, "t:É", b"\x00{}"),
        ]
        assert writer.existing({a, b, uuid4()}) == {a, b}
        # An event already there: nothing of the batch is written.
        c = uuid4()
        with pytest.raises(IntegrityError):
            writer.write(_events((c, 1), (a, 2)))
        assert not tally.store.recorder.select_events(c)
        # A version read by the batch has been written since: nothing is written either,
        # and the writer goes on working.
        with pytest.raises(IntegrityError):
            writer.write(_events((c, 1)), reads=[(a, 2)])
        assert not tally.store.recorder.select_events(c)
        assert len(writer.write(_events((c, 1)), reads=[(a, 3)])) == 1
    finally:
        writer.close()


def test_writers_starting_together_define_the_function_once(tally: Tally) -> None:
    """The append function is created by the first writer of a schema; writers of several
    processes starting at once must not fail on each other's definition."""
    recorder = tally.store.recorder
    assert isinstance(recorder, PostgresApplicationRecorder)
    schema = tally.settings.db_schema
    writers = [PostgresEventWriter(recorder) for _ in range(4)]
    function = writers[0].function_name
    assert function.startswith("tally_events_append_v_")
    with recorder.datastore.pool.connection() as conn:
        conn.execute(f'DROP FUNCTION IF EXISTS "{schema}".{function}')
    start = threading.Barrier(len(writers))
    written: list[list[int]] = []
    errors: list[BaseException] = []

    def write(writer: PostgresEventWriter) -> None:
        start.wait()
        try:
            written.append(writer.write(_events((uuid4(), 1))))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in writers]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        for writer in writers:
            writer.close()
    assert not errors
    assert sorted(len(ids) for ids in written) == [1, 1, 1, 1]
    with recorder.datastore.pool.connection() as conn:
        defined = conn.execute(
            "SELECT count(*) AS n FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = %s AND p.proname = %s",
            (schema, function),
        ).fetchone()
    assert defined is not None
    assert defined["n"] == 1


def test_the_append_functions_name_follows_its_definition(tally: Tally) -> None:
    """A function is created once and never replaced, so a changed body (the key check
    of projections.api_keys included) must be a new name, or a database that has the old
    one keeps calling it (review finding 4): the name is a digest of the definition, and
    the body stored under it is that definition's."""
    recorder = tally.store.recorder
    assert isinstance(recorder, PostgresApplicationRecorder)
    writer = PostgresEventWriter(recorder)
    try:
        assert len(writer.write(_events((uuid4(), 1)))) == 1
    finally:
        writer.close()
    table = recorder.events_table_name
    assert writer.function_name == append_function(table, writer.definition)
    with recorder.datastore.pool.connection() as conn:
        stored = conn.execute(
            "SELECT p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = %s AND p.proname = %s",
            (tally.settings.db_schema, writer.function_name),
        ).fetchone()
    assert stored is not None
    assert f"$body${stored['prosrc']}$body$" in writer.definition
    edited = writer.definition.replace("no longer holds", "is refused")
    assert edited != writer.definition
    assert append_function(table, edited) != writer.function_name
