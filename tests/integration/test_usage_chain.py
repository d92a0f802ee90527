"""The usage events' own hash chain (issue 15) on real Postgres: every batch's new rows are
chained in its transaction (duplicates are not), concurrent batches make one total order
with no gap, and tampering at the SQL level (an edit of any hashed column, a delete, an
insert, a swap, a cut at the end) is found at the right place; rows from before the chain
are chained by the backfill."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg import sql

from adapters.usage_chain import backfill, read_usage_head, row_at, verify_usage
from adapters.usage_store import write
from api.tally import Tally
from tests.usage_model import BASE, Sent, rule

METER = rule("sum")


@pytest.fixture
def conn(tally: Tally) -> Any:
    with psycopg.connect(tally.target.url, autocommit=True) as connection:
        yield connection


def _send(tally: Tally, project: UUID, ids: range, prefix: str = "tx") -> int:
    batch = [
        Sent(f"{prefix}{i:04d}", BASE + timedelta(seconds=i), {"v": str(i), "model": "ab"[i % 2]})
        for i in ids
    ]
    return len(write(tally.views, tally.schema, project, [e.accepted(METER) for e in batch],
                     BASE).created)  # fmt: skip


@pytest.fixture
def chained(tally: Tally) -> UUID:
    """30 usage events of one project in three batches (the last repeats 5 of the first)."""
    project = uuid4()
    _send(tally, project, range(0, 10))
    _send(tally, project, range(10, 20))
    assert _send(tally, project, range(15, 30)) == 10
    return project


def _run(conn: psycopg.Connection[Any], tally: Tally, statement: str, *args: Any) -> None:
    conn.execute(sql.SQL(statement).format(s=sql.Identifier(tally.schema)), args or None)


def _positions(conn: psycopg.Connection[Any], tally: Tally) -> list[int]:
    """Every chained position, from the link rows."""
    query = sql.SQL(
        "SELECT first_position, cardinality(transaction_ids) FROM {}.usage_chain_batches"
    ).format(sql.Identifier(tally.schema))
    return sorted(p for first, n in conn.execute(query) for p in range(first, first + n))


def test_each_new_row_is_chained_once_in_order_and_the_chain_verifies(
    tally: Tally, conn: psycopg.Connection[Any], chained: UUID
) -> None:
    assert _positions(conn, tally) == list(range(1, 31))
    # Batch by batch, the new rows in their transaction ids' order; duplicates not again.
    assert row_at(conn, tally.schema, 12).startswith("usage event tx0011 ")
    assert row_at(conn, tally.schema, 21).startswith("usage event tx0020 ")
    found = verify_usage(conn, tally.schema)
    assert found.ok, found.summary()
    assert (found.checked, found.first, found.last) == (30, 1, 30)
    head = read_usage_head(conn, tally.schema)
    assert (head.position, head.hash) == (30, found.head_hash)


def test_concurrent_batches_make_one_chain_without_gaps(
    tally: Tally, conn: psycopg.Connection[Any]
) -> None:
    projects = [uuid4(), uuid4()]

    def send(n: int) -> None:
        # Eight writers, two projects, each id sent by two writers.
        for start in range(0, 200, 50):
            first = (n // 2) * 100 + start
            _send(tally, projects[n % 2], range(first, first + 50))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    positions = _positions(conn, tally)
    assert positions == list(range(1, len(positions) + 1))
    assert len(positions) == 2 * 500
    found = verify_usage(conn, tally.schema)
    assert (found.ok, found.checked) == (True, 1_000), found.summary()


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("properties", "jsonb_build_object('v', '999', 'model', 'a')"),
        ("occurred_at", "occurred_at + interval '1 second'"),
        ("customer_id", "gen_random_uuid()"),
        ("subscription_id", "gen_random_uuid()"),
        ("event_name", "'other'"),
        ("meter_ids", "meter_ids || gen_random_uuid()"),
        ("received_at", "received_at - interval '1 day'"),
        ("transaction_id", "'forged'"),
        ("project_id", "gen_random_uuid()"),
    ],
)
def test_an_edit_of_any_hashed_column_is_found_at_its_row(
    tally: Tally, conn: psycopg.Connection[Any], chained: UUID, column: str, value: str
) -> None:
    _run(conn, tally, f"UPDATE {{s}}.usage_events SET {column} = {value} "
                      "WHERE transaction_id = 'tx0011'")  # fmt: skip
    found = verify_usage(conn, tally.schema)
    assert (found.failed_at, found.last) == (12, 11), found.summary()


def test_a_deleted_row_is_found_at_its_position(
    tally: Tally, conn: psycopg.Connection[Any], chained: UUID
) -> None:
    _run(conn, tally, "DELETE FROM {s}.usage_events WHERE transaction_id = 'tx0006'")
    assert verify_usage(conn, tally.schema).failed_at == 7


def test_a_deleted_link_is_found_at_the_position_after_it(
    tally: Tally, conn: psycopg.Connection[Any], chained: UUID
) -> None:
    _run(
        conn,
        tally,
        "DELETE FROM {s}.usage_events WHERE transaction_id BETWEEN 'tx0010' AND 'tx0019'",
    )
    _run(conn, tally, "DELETE FROM {s}.usage_chain_batches WHERE first_position = 11")
    assert verify_usage(conn, tally.schema).failed_at == 21


def test_rows_cut_off_the_end_are_found_by_the_head(
    tally: Tally, conn: psycopg.Connection[Any], chained: UUID
) -> None:
    _run(conn, tally, "DELETE FROM {s}.usage_events WHERE transaction_id >= 'tx0020'")
    _run(conn, tally, "DELETE FROM {s}.usage_chain_batches WHERE first_position = 21")
    found = verify_usage(conn, tally.schema)
    assert (found.failed_at, found.checked) == (21, 20), found.summary()
    assert "head is position 30" in found.problem


def test_an_inserted_row_is_found(
    tally: Tally, conn: psycopg.Connection[Any], chained: UUID
) -> None:
    _run(
        conn,
        tally,
        "INSERT INTO {s}.usage_events SELECT project_id, 'planted', customer_id, "
        "subscription_id, event_name, occurred_at, properties, meter_ids, received_at "
        "FROM {s}.usage_events WHERE transaction_id = 'tx0004'",
    )
    # On no link: named by its transaction id.
    found = verify_usage(conn, tally.schema)
    assert not found.ok
    assert "usage event planted of project" in found.problem
    # Linked after the head with a hash copied from elsewhere: found there.
    _run(
        conn,
        tally,
        "INSERT INTO {s}.usage_chain_batches SELECT 31, project_id, ARRAY['planted'], "
        "substring(hashes FROM 1 FOR 32) FROM {s}.usage_chain_batches WHERE first_position = 1",
    )
    assert verify_usage(conn, tally.schema).failed_at == 31


def test_two_swapped_rows_are_found_at_the_first(
    tally: Tally, conn: psycopg.Connection[Any], chained: UUID
) -> None:
    _run(
        conn,
        tally,
        "UPDATE {s}.usage_chain_batches SET transaction_ids[6] = transaction_ids[7], "
        "transaction_ids[7] = transaction_ids[6] WHERE first_position = 11",
    )
    assert verify_usage(conn, tally.schema).failed_at == 16


def test_rows_from_before_the_chain_are_chained_by_the_backfill_and_chain_on(
    tally: Tally, conn: psycopg.Connection[Any], chained: UUID
) -> None:
    _run(conn, tally, "DELETE FROM {s}.usage_chain_batches")
    _run(conn, tally, "UPDATE {s}.usage_chain SET position = 0, hash = %s", bytes(32))
    assert not verify_usage(conn, tally.schema).ok
    with conn.transaction(), conn.cursor() as cur:
        assert backfill(cur, tally.schema) == 30
    assert _send(tally, chained, range(100, 105)) == 5
    found = verify_usage(conn, tally.schema)
    assert (found.ok, found.checked) == (True, 35), found.summary()
    with conn.transaction(), conn.cursor() as cur:
        assert backfill(cur, tally.schema) == 0
