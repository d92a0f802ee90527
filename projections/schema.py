"""DDL for every read model. Placeholder until the projections land."""

from __future__ import annotations

from typing import Any

from psycopg_pool import ConnectionPool


def create_tables(pool: ConnectionPool[Any], schema: str) -> None:
    """Create every read-model table in ``schema`` if missing (idempotent)."""
