"""Shared fixtures. Postgres tests use TALLY_DATABASE_URL when it is set (CI sets it) and
the embedded Postgres otherwise; they never skip. Each test gets a schema of its own: an
empty one under a new name, emptied after an earlier test rather than made anew
(``tests/schemas.py`` says why and when), or, under ``@pytest.mark.fresh_schema``, a
name no schema has yet."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.dependencies import models as fastapi_models

from adapters.clock import FixedClock
from adapters.database import start_embedded
from api.bootstrap import Tally, build
from api.settings import Settings
from tests.schemas import SchemaPool, new_name, shape


@pytest.fixture(scope="session")
def pg_url() -> str:
    url = os.environ.get("TALLY_DATABASE_URL")
    if url:
        return url
    data_dir = Path(
        os.environ.get("TALLY_TEST_DATA_DIR", Path(tempfile.gettempdir()) / "tally-test")
    )
    return start_embedded(data_dir)


POOL_REPORT = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def schema_pool(pg_url: str, pytestconfig: pytest.Config) -> Iterator[SchemaPool]:
    """The session's schemas, with the shape of one Tally has just built as the reference
    (that schema is the first one handed out)."""
    name = new_name()
    build(Settings(database_url=pg_url, db_schema=name, pool_size=1)).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        reference = shape(conn, name)
    assert reference, "Tally built no schema"
    pool = SchemaPool(pg_url, reference)
    pool.ready.append(name)
    yield pool
    pool.close()
    pytestconfig.stash[POOL_REPORT] = (
        f"schemas: {pool.reused} emptied and used again, {pool.dropped} dropped"
    )


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if POOL_REPORT in config.stash:
        terminalreporter.write_line(config.stash[POOL_REPORT])


@pytest.fixture(autouse=True)
def forget_apps() -> Iterator[None]:
    """After each test, FastAPI's caches of how to call an endpoint forget the test's app.
    They are keyed by the endpoint function (4,096 of each kept), and the docs pages'
    endpoints are made per app and hold it (api/docs_pages.py), so every app a test
    served stayed alive with its Tally: about 9 MB and 46,000 objects a test, 4.5 GB in
    the pytest process by the end of tests/e2e, which each full collection walks."""
    yield
    for cached in (
        fastapi_models._is_gen_callable_cached,
        fastapi_models._is_async_gen_callable_cached,
        fastapi_models._is_coroutine_callable_cached,
    ):
        cached.cache_clear()


@pytest.fixture
def schema(schema_pool: SchemaPool, request: pytest.FixtureRequest) -> Iterator[str]:
    name = schema_pool.take(fresh=request.node.get_closest_marker("fresh_schema") is not None)
    yield name
    schema_pool.give_back(name)


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
