"""Cursor pagination and JSON-friendly rows for the query functions.

Every list is ordered by ``(position, id)``: the notification id that created the row,
then the row's id, which is stable and unique. ``starting_after`` is the id of the last
item of the previous page; an id that is not in the list (or belongs to another
project) gives an empty page rather than an error, so ids cannot be probed across
projects. One more row than ``limit`` is fetched to tell whether there is a next page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

MAX_LIMIT = 1000


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    return limit


def plain(row: dict[str, Any]) -> dict[str, Any]:
    """UUIDs as strings and datetimes as ISO 8601 strings; everything else unchanged."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, UUID):
            out[key] = str(value)
        elif isinstance(value, datetime):
            out[key] = value.isoformat()
        else:
            out[key] = value
    return out


def fetch_all(
    pool: ConnectionPool[Any], query: sql.Composable, params: list[Any]
) -> list[dict[str, Any]]:
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        rows: list[dict[str, Any]] = cur.fetchall()
        return rows


def fetch_one(
    pool: ConnectionPool[Any], query: sql.Composable, params: list[Any]
) -> dict[str, Any] | None:
    rows = fetch_all(pool, query, params)
    return rows[0] if rows else None


def fetch_page(
    pool: ConnectionPool[Any], query: sql.Composable, params: list[Any], limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """Run a query that ends in ``LIMIT %s`` with ``limit + 1`` appended to ``params``."""
    rows = fetch_all(pool, query, [*params, check_limit(limit) + 1])
    return rows[:limit], len(rows) > limit
