"""The hash-chained log (docs/audit.md) on real Postgres: every write is chained, and
``verify`` finds an edited, deleted, inserted or reordered event at the right position."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from psycopg import sql

from adapters.audit_chain import GENESIS, ChainNames, canonical, install_chain, link
from adapters.audit_verify import Expected, verify
from adapters.event_writer import PostgresEventWriter
from api.bootstrap import NO_PROJECT, Tally
from commands import messages as m
from commands.bus import Context

TABLE = "tally_events"


def _write_deposits(tally: Tally, deposits: int) -> None:
    made = tally.execute(m.CreateProject(name="acme"), Context(NO_PROJECT, "cli"))
    pid = UUID(made.body["project"]["id"])
    opened = tally.execute(m.OpenAccount(owner_ref="bob", currency="EUR"), Context(pid, "k"))
    account = UUID(opened.body["account"]["id"])
    for i in range(deposits):
        tally.execute(
            m.Deposit(account_id=account, amount=10, currency="EUR"), Context(pid, "k", f"d{i}")
        )


@pytest.fixture
def conn(tally: Tally) -> Any:
    with psycopg.connect(tally.target.url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def logged(tally: Tally, conn: psycopg.Connection[Any]) -> list[int]:
    """A log of a project, an account and 10 deposits; its positions."""
    _write_deposits(tally, 10)
    return _positions(conn, tally.schema)


def _positions(conn: psycopg.Connection[Any], schema: str) -> list[int]:
    query = sql.SQL("SELECT notification_id FROM {} ORDER BY 1").format(_table(schema))
    return [row[0] for row in conn.execute(query)]


def _table(schema: str) -> sql.Identifier:
    return sql.Identifier(schema, TABLE)


def _untriggered(conn: psycopg.Connection[Any], statement: sql.Composable, *args: Any) -> None:
    """Run a statement as someone with direct write access would, triggers off."""
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(statement, args or None)


def _verify(tally: Tally, conn: psycopg.Connection[Any], **kwargs: Any) -> Any:
    return verify(conn, tally.schema, TABLE, **kwargs)


def test_every_event_the_bus_writes_is_chained_and_the_chain_verifies(
    tally: Tally, conn: psycopg.Connection[Any], logged: list[int]
) -> None:
    found = _verify(tally, conn)

    assert found.ok, found.summary()
    assert (found.checked, found.first, found.last) == (len(logged), logged[0], logged[-1])
    rows = conn.execute(
        sql.SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state, hash "
            "FROM {} ORDER BY notification_id"
        ).format(_table(tally.schema))
    ).fetchall()
    previous = GENESIS
    for position, originator_id, version, topic, state, stored in rows:
        previous = link(previous, canonical(position, originator_id, version, topic, state))
        assert stored == previous  # what the trigger stored is what the definition says
    assert found.head_hash == previous


def test_an_edited_event_is_found_at_its_position(
    tally: Tally, conn: psycopg.Connection[Any], logged: list[int]
) -> None:
    edited = logged[7]
    conn.execute(
        sql.SQL("UPDATE {} SET state = state || ' '::bytea WHERE notification_id = %s").format(
            _table(tally.schema)
        ),
        (edited,),
    )

    found = _verify(tally, conn)

    assert (found.ok, found.failed_at, found.last) == (False, edited, logged[6])
    assert "changed" in found.summary()


@pytest.mark.parametrize("column", ["topic", "originator_version", "originator_id"])
def test_an_edit_of_any_hashed_column_is_found(
    tally: Tally, conn: psycopg.Connection[Any], logged: list[int], column: str
) -> None:
    changes = {
        "topic": "topic = topic || 'x'",
        "originator_version": "originator_version = originator_version + 1000",
        "originator_id": "originator_id = gen_random_uuid()",
    }
    conn.execute(
        sql.SQL("UPDATE {} SET " + changes[column] + " WHERE notification_id = %s").format(
            _table(tally.schema)
        ),
        (logged[4],),
    )

    assert _verify(tally, conn).failed_at == logged[4]


def test_a_deleted_event_is_found_at_the_event_after_it(
    tally: Tally, conn: psycopg.Connection[Any], logged: list[int]
) -> None:
    conn.execute(
        sql.SQL("DELETE FROM {} WHERE notification_id = %s").format(_table(tally.schema)),
        (logged[5],),
    )

    found = _verify(tally, conn)

    # The next event's hash was computed on the deleted one's: that link is what breaks.
    assert (found.failed_at, found.last) == (logged[6], logged[4])


def _gap(tally: Tally, conn: psycopg.Connection[Any]) -> int:
    """A gap in the positions, as a refused batch leaves one (its ids were drawn)."""
    writer = PostgresEventWriter(tally.store.recorder)
    first = StoredEvent(uuid4(), 1, "tally:Forged", b"{}")
    try:
        writer.write([first])
        with pytest.raises(IntegrityError):
            writer.write([StoredEvent(uuid4(), 1, "tally:Forged", b"{}"), first])
        writer.write([StoredEvent(uuid4(), 1, "tally:Forged", b"{}")])
    finally:
        writer.close()
    positions = _positions(conn, tally.schema)
    assert positions[-1] - positions[-2] == 3  # two ids drawn and not used
    return positions[-2] + 1


def test_an_inserted_event_is_found_at_its_position(
    tally: Tally, conn: psycopg.Connection[Any], logged: list[int]
) -> None:
    gap = _gap(tally, conn)
    _untriggered(
        conn,
        sql.SQL(
            "INSERT INTO {} (notification_id, originator_id, originator_version, topic, state, "
            "hash) SELECT %s, gen_random_uuid(), 1, 'tally:Forged', '{{}}', sha256('x')"
        ).format(_table(tally.schema)),
        gap,
    )

    assert _verify(tally, conn).failed_at == gap


def test_an_inserted_event_that_chains_itself_is_found_at_the_event_after_it(
    tally: Tally, conn: psycopg.Connection[Any], logged: list[int]
) -> None:
    # A forger who hashes the inserted event onto its predecessor (but not the events
    # after it) makes the next event's link break.
    gap = _gap(tally, conn)
    before = conn.execute(
        sql.SQL("SELECT hash FROM {} WHERE notification_id = %s").format(_table(tally.schema)),
        (gap - 1,),
    ).fetchone()
    assert before is not None
    forged_id = uuid4()
    forged = link(before[0], canonical(gap, forged_id, 1, "tally:Forged", b"{}"))
    _untriggered(
        conn,
        sql.SQL(
            "INSERT INTO {} (notification_id, originator_id, originator_version, topic, state, "
            "hash) VALUES (%s, %s, 1, 'tally:Forged', '{{}}', %s)"
        ).format(_table(tally.schema)),
        gap,
        forged_id,
        forged,
    )

    assert _verify(tally, conn).failed_at == gap + 2


def test_two_swapped_events_are_found_at_the_first(
    tally: Tally, conn: psycopg.Connection[Any], logged: list[int]
) -> None:
    a, b = logged[3], logged[8]
    t = _table(tally.schema)
    # Swap their positions (through a free one, the primary key being the event's id).
    with conn.transaction():
        for old, new in ((a, -1), (b, a), (-1, b)):
            conn.execute(
                sql.SQL("UPDATE {} SET notification_id = %s WHERE notification_id = %s").format(t),
                (new, old),
            )

    assert _verify(tally, conn).failed_at == a


def test_a_range_is_verified_against_the_hash_before_it(
    tally: Tally, conn: psycopg.Connection[Any], logged: list[int]
) -> None:
    conn.execute(
        sql.SQL("UPDATE {} SET state = '{{}}' WHERE notification_id = %s").format(
            _table(tally.schema)
        ),
        (logged[2],),
    )

    after = _verify(tally, conn, start=logged[5], stop=logged[8])
    covering = _verify(tally, conn, start=logged[1], stop=logged[4])

    assert after.ok
    assert (after.checked, after.first, after.last) == (4, logged[5], logged[8])
    assert covering.failed_at == logged[2]


def test_a_rewritten_chain_verifies_alone_but_not_against_a_checkpoint(
    tally: Tally, conn: psycopg.Connection[Any], logged: list[int]
) -> None:
    head = _verify(tally, conn)
    assert head.last is not None
    assert head.head_hash is not None
    checkpoint = Expected(head.last, head.head_hash)
    # A forger edits an event and recomputes every hash after it, as the triggers would.
    t = _table(tally.schema)
    conn.execute(
        sql.SQL("UPDATE {} SET state = '{{}}' WHERE notification_id = %s").format(t),
        (logged[3],),
    )
    _rehash(conn, tally.schema, from_position=logged[3])

    assert _verify(tally, conn).ok  # what an unkeyed chain cannot see (docs/audit.md)
    found = _verify(tally, conn, expect=checkpoint)
    assert (found.ok, found.failed_at) == (False, checkpoint.position)


def _rehash(conn: psycopg.Connection[Any], schema: str, from_position: int) -> None:
    t = _table(schema)
    rows = conn.execute(
        sql.SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state, hash "
            "FROM {} ORDER BY notification_id"
        ).format(t)
    ).fetchall()
    previous = GENESIS
    for position, originator_id, version, topic, state, stored in rows:
        if position < from_position:
            previous = stored
            continue
        previous = link(previous, canonical(position, originator_id, version, topic, state))
        conn.execute(
            sql.SQL("UPDATE {} SET hash = %s WHERE notification_id = %s").format(t),
            (previous, position),
        )


def test_a_checkpoint_whose_event_was_cut_off_is_not_extended(
    tally: Tally, conn: psycopg.Connection[Any], logged: list[int]
) -> None:
    head = _verify(tally, conn)
    assert head.last is not None
    assert head.head_hash is not None
    conn.execute(
        sql.SQL("DELETE FROM {} WHERE notification_id >= %s").format(_table(tally.schema)),
        (logged[-2],),
    )

    assert _verify(tally, conn).ok  # a cut-off tail is a shorter, intact chain
    found = _verify(tally, conn, expect=Expected(head.last, head.head_hash))
    assert found.failed_at == head.last
    assert "no longer holds" in found.summary()


def test_an_insert_before_the_head_is_refused(
    tally: Tally, conn: psycopg.Connection[Any], logged: list[int]
) -> None:
    gap = _gap(tally, conn)

    with pytest.raises(psycopg.errors.RaiseException, match="not after the head"):
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (notification_id, originator_id, originator_version, topic, "
                "state) VALUES (%s, gen_random_uuid(), 1, 'tally:Forged', '{{}}')"
            ).format(_table(tally.schema)),
            (gap,),
        )


def test_a_store_from_before_the_chain_is_hashed_when_opened_and_chains_on(
    tally: Tally, conn: psycopg.Connection[Any], logged: list[int]
) -> None:
    hashed = _verify(tally, conn).head_hash
    _untriggered(conn, sql.SQL("UPDATE {} SET hash = NULL").format(_table(tally.schema)))
    with pytest.raises(psycopg.errors.RaiseException, match="run tally audit backfill"):
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (originator_id, originator_version, topic, state) "
                "VALUES (gen_random_uuid(), 1, 'tally:Forged', '{{}}')"
            ).format(_table(tally.schema))
        )

    done = install_chain(tally.target.url, tally.schema, TABLE)

    assert done == len(logged)
    assert _verify(tally, conn).head_hash == hashed  # the same chain as written
    _write_deposits(tally, 2)
    after = _verify(tally, conn)
    assert after.ok
    assert after.checked == len(_positions(conn, tally.schema)) > len(logged)


def test_opening_a_chained_store_again_changes_nothing(
    tally: Tally, conn: psycopg.Connection[Any], logged: list[int]
) -> None:
    names = ChainNames(tally.schema, TABLE)

    assert install_chain(tally.target.url, tally.schema, TABLE) == 0
    triggers = conn.execute(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass ORDER BY 1",
        (f"{tally.schema}.{TABLE}",),
    ).fetchall()
    assert [t[0] for t in triggers] == [names.row_trigger]


def test_the_stored_event_bytes_are_what_the_writer_was_given(
    tally: Tally, conn: psycopg.Connection[Any]
) -> None:
    events = [
        StoredEvent(uuid4(), 1, "tally:Bytes", b'{"a":1,"s":"\\u00e9\\n"}'),
        StoredEvent(uuid4(), 7, "tally:Bytes\u00e9", bytes(range(256))),
    ]
    writer = PostgresEventWriter(tally.store.recorder)
    try:
        positions = writer.write(events)
    finally:
        writer.close()

    rows = conn.execute(
        sql.SQL(
            "SELECT originator_id, originator_version, topic, state FROM {} "
            "WHERE notification_id = ANY(%s) ORDER BY notification_id"
        ).format(_table(tally.schema)),
        (positions,),
    ).fetchall()
    assert rows == [(e.originator_id, e.originator_version, e.topic, e.state) for e in events]
    assert _verify(tally, conn).ok
