"""``adapters.database.advisory_lock_if_free``, the one lock the broker publisher and the
webhook delivery take per destination: one session at a time has it, the others are told
so at once (they do not wait), and it is free again when the holder's block ends."""

from __future__ import annotations

from uuid import uuid4

import psycopg
import pytest
from psycopg.rows import dict_row

from adapters.database import advisory_lock_if_free


def test_one_session_holds_a_key_the_other_is_told_and_gets_it_after(pg_url: str) -> None:
    key = f"test-lock:{uuid4()}"
    # The pools hand out dict rows; a plain connection tuples: the helper reads both.
    with (
        psycopg.connect(pg_url, autocommit=True, row_factory=dict_row) as first,
        psycopg.connect(pg_url, autocommit=True) as second,
    ):
        with advisory_lock_if_free(first, key) as held:
            assert held
            with advisory_lock_if_free(second, key) as also:
                assert not also
            with advisory_lock_if_free(second, f"{key}:other") as other:
                assert other  # another key is another lock
        with advisory_lock_if_free(second, key) as now:
            assert now


def test_the_lock_is_released_when_the_block_raises(pg_url: str) -> None:
    key = f"test-lock:{uuid4()}"
    with (
        psycopg.connect(pg_url, autocommit=True) as first,
        psycopg.connect(pg_url, autocommit=True) as second,
    ):
        with pytest.raises(RuntimeError):
            _fail_holding(first, key)
        with advisory_lock_if_free(second, key) as again:
            assert again


def _fail_holding(conn: psycopg.Connection[object], key: str) -> None:
    with advisory_lock_if_free(conn, key) as held:
        assert held
        raise RuntimeError("the work failed")
