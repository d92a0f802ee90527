"""How replay compares a live read-model table with its rebuilt (scratch) copy, inside
Postgres: one full outer join on the primary key per table, the counts of rows without an
equal partner on each side, and a few differing rows named by their key
(``projections.replay`` rebuilds the copies and reports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from projections.base import rows_of
from projections.tables import Table

SAMPLE_ROWS = 3


@dataclass
class TableDiff:
    table: str
    live_rows: int
    replayed_rows: int
    only_live: int  # rows in the live table that the replay did not produce
    only_replayed: int  # rows the replay produced that the live table lacks
    samples: list[str] = field(default_factory=list)

    @property
    def differences(self) -> int:
        return self.only_live + self.only_replayed


def compare_table(cur: psycopg.Cursor[Any], schema: str, scratch: str, table: Table) -> TableDiff:
    """Count both sides and their differences in ONE pass over each table.

    Both tables have the same primary key, so a row of one side has at most one partner
    on the other: a full outer join on the key pairs them, and a pair differs when one
    side is missing or any column ``IS DISTINCT FROM`` its partner (NULL-safe, with each
    type's own equality, as ``EXCEPT`` compares). A changed row counts once on each side,
    a missing row once on the side that has it, as ``EXCEPT ALL`` both ways counted; it
    reads each table once instead of three times (the two ``EXCEPT``s and a count).
    """
    joined, only_live, only_replayed = _joined(schema, scratch, table)
    cur.execute(
        sql.SQL(
            "SELECT count(l.{k}), count(r.{k}), "
            "count(*) FILTER (WHERE {ol}), count(*) FILTER (WHERE {orr}) FROM {j}"
        ).format(k=sql.Identifier(_key(table)[0]), ol=only_live, orr=only_replayed, j=joined)
    )
    live_rows, replayed_rows, n_live, n_replayed = rows_of(cur)[0]
    diff = TableDiff(table.name, live_rows, replayed_rows, n_live, n_replayed)
    if n_live or n_replayed:
        diff.samples = _samples(cur, table, joined, only_live, only_replayed)
    return diff


def _key(table: Table) -> list[str]:
    return [c.strip() for c in table.primary_key.split(",")]


def _joined(
    schema: str, scratch: str, table: Table
) -> tuple[sql.Composed, sql.Composed, sql.Composed]:
    """The full join of the live (``l``) and replayed (``r``) table on the primary key,
    and the conditions for a live row and a replayed row that has no equal partner."""
    key = _key(table)
    on = sql.SQL(" AND ").join(sql.SQL("l.{0} = r.{0}").format(sql.Identifier(k)) for k in key)
    joined = sql.SQL("{}.{} l FULL JOIN {}.{} r ON {}").format(
        sql.Identifier(schema),
        sql.Identifier(table.name),
        sql.Identifier(scratch),
        sql.Identifier(table.name),
        on,
    )
    columns = table.compared_columns

    def side(alias: str) -> sql.Composed:
        return sql.SQL("({})").format(
            sql.SQL(", ").join(
                sql.SQL("{}.{}").format(sql.SQL(alias), sql.Identifier(c)) for c in columns
            )
        )

    # A key column is NOT NULL (it is part of the primary key), so it is NULL in the
    # join exactly when that side has no row with this key.
    first = sql.Identifier(key[0])
    differs = sql.SQL("{} IS DISTINCT FROM {}").format(side("l"), side("r"))
    only_live = sql.SQL("(l.{k} IS NOT NULL AND (r.{k} IS NULL OR {d}))").format(k=first, d=differs)
    only_replayed = sql.SQL("(r.{k} IS NOT NULL AND (l.{k} IS NULL OR {d}))").format(
        k=first, d=differs
    )
    return joined, only_live, only_replayed


def _samples(
    cur: psycopg.Cursor[Any],
    table: Table,
    joined: sql.Composed,
    only_live: sql.Composed,
    only_replayed: sql.Composed,
) -> list[str]:
    """A few differing rows, each named by its primary key: the columns that differ
    when both sides have the row, else which side lacks it."""
    columns = table.compared_columns
    key = _key(table)
    n = len(columns)
    both = sql.SQL(", ").join(
        [sql.SQL("l.{}").format(sql.Identifier(c)) for c in columns]
        + [sql.SQL("r.{}").format(sql.Identifier(c)) for c in columns]
        + [sql.SQL("l.{} IS NOT NULL").format(sql.Identifier(key[0]))]
        + [sql.SQL("r.{} IS NOT NULL").format(sql.Identifier(key[0]))]
    )
    cur.execute(
        sql.SQL("SELECT {} FROM {} WHERE {} OR {} LIMIT {}").format(
            both, joined, only_live, only_replayed, sql.Literal(SAMPLE_ROWS)
        )
    )
    lines = []
    for row in rows_of(cur):
        live = dict(zip(columns, row[:n], strict=True))
        replayed = dict(zip(columns, row[n : 2 * n], strict=True))
        has_live, has_replayed = row[2 * n], row[2 * n + 1]
        named = live if has_live else replayed
        name = ", ".join(f"{k}={named[k]}" for k in key)
        if not has_replayed:
            lines.append(f"{name}: only in the live table")
        elif not has_live:
            lines.append(f"{name}: missing from the live table")
        else:
            changed = [c for c in columns if live[c] != replayed[c]]
            lines.append(
                f"{name}: "
                + "; ".join(f"{c} live {live[c]} != replayed {replayed[c]}" for c in changed)
            )
    return lines
