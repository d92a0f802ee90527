"""Shared fixtures. Postgres tests use TALLY_DATABASE_URL when it is set (CI sets it) and
the embedded Postgres otherwise; they never skip. Each test gets a schema of its own."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from adapters.clock import FixedClock
from adapters.database import start_embedded
from api.bootstrap import Tally, build
from api.settings import Settings


@pytest.fixture(scope="session")
def pg_url() -> str:
    url = os.environ.get("TALLY_DATABASE_URL")
    if url:
        return url
    data_dir = Path(
        os.environ.get("TALLY_TEST_DATA_DIR", Path(tempfile.gettempdir()) / "tally-test")
    )
    return start_embedded(data_dir)


@pytest.fixture
def schema(pg_url: str) -> Iterator[str]:
    name = f"t_{secrets.token_hex(6)}"
    yield name
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
def settings(pg_url: str, schema: str) -> Settings:
    return Settings(database_url=pg_url, db_schema=schema, pool_size=8, sweep_interval_s=0.2)


@pytest.fixture
def tally(settings: Settings, request: pytest.FixtureRequest) -> Iterator[Tally]:
    """Tally on the system clock, or, under ``@pytest.mark.fixed_clock(start)``, on a
    ``FixedClock`` from ``start`` that the test moves itself."""
    marker = request.node.get_closest_marker("fixed_clock")
    app = build(settings, clock=FixedClock(marker.args[0]) if marker else None)
    yield app
    app.close()
