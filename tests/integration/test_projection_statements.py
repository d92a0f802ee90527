"""Read-model statements composed once (projections.statements): the kept bytes are what
psycopg would send for the composed statement, a key never answers another statement,
and what cannot be kept is still composed."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import sql

from projections import statements
from projections.statements import TableName, compiled, table

NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,20}", fullmatch=True)


@pytest.fixture
def cur(pg_url: str) -> Iterator[psycopg.Cursor[Any]]:
    with psycopg.connect(pg_url) as conn, conn.cursor() as cursor:
        yield cursor


def test_table_is_one_shared_object_that_reads_as_before(cur: psycopg.Cursor[Any]) -> None:
    accounts = table("tally_x", "accounts")
    assert table("tally_x", "accounts") is accounts
    before = sql.SQL("{}.{}").format(sql.Identifier("tally_x"), sql.Identifier("accounts"))
    assert accounts.as_bytes(cur) == before.as_bytes(cur) == b'"tally_x"."accounts"'
    assert TableName("tally_x", "accounts") == accounts
    assert hash(TableName("tally_x", "accounts")) == hash(accounts)
    assert TableName("tally_y", "accounts") != accounts
    assert accounts != before  # a plain Composed is not a key's table


@settings(max_examples=50, deadline=None)
@given(schema=NAMES, name=NAMES, columns=st.lists(NAMES, min_size=1, max_size=5))
def test_kept_bytes_are_the_composed_statement(
    pg_url: str, schema: str, name: str, columns: list[str]
) -> None:
    with psycopg.connect(pg_url) as conn, conn.cursor() as cur:
        target = table(schema, name)

        def build() -> sql.Composed:
            return sql.SQL("COPY {} ({}) FROM STDIN").format(
                target, sql.SQL(", ").join(map(sql.Identifier, columns))
            )

        key = ("test-copy", target, tuple(columns))
        first = compiled(cur, key, build)
        assert first == build().as_bytes(cur)
        calls: list[int] = []

        def counted() -> sql.Composed:
            calls.append(1)
            return build()

        assert compiled(cur, key, counted) == first
        assert calls == []  # kept: not composed again


def test_another_key_gets_its_own_statement(cur: psycopg.Cursor[Any]) -> None:
    one, other = table("s_one", "t"), table("s_other", "t")
    got_one = compiled(cur, ("test-select", one), lambda: sql.SQL("SELECT * FROM {}").format(one))
    got_other = compiled(
        cur, ("test-select", other), lambda: sql.SQL("SELECT * FROM {}").format(other)
    )
    assert got_one == b'SELECT * FROM "s_one"."t"'
    assert got_other == b'SELECT * FROM "s_other"."t"'


def test_a_statement_that_is_not_ascii_is_composed_every_time(
    cur: psycopg.Cursor[Any],
) -> None:
    odd = table("s", "tablé")
    key = ("test-odd", odd)
    got = compiled(cur, key, lambda: sql.SQL("SELECT 1 FROM {}").format(odd))
    assert isinstance(got, sql.Composed)
    assert got.as_bytes(cur) == 'SELECT 1 FROM "s"."tablé"'.encode()
    assert key not in statements._kept


def test_the_cache_is_bounded(cur: psycopg.Cursor[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statements, "MAX_KEPT", 3)
    monkeypatch.setattr(statements, "_kept", {})
    for i in range(10):
        target = table("bounded", f"t{i}")
        statement = sql.SQL("SELECT {}").format(target)
        got = compiled(cur, ("test-bound", target), functools.partial(_same, statement))
        assert got == statement.as_bytes(cur)
        assert len(statements._kept) <= 3


def _same(statement: sql.Composed) -> sql.Composed:
    return statement
