"""The chain across processes: writers in two processes keep one chain, and a writer
killed with SIGKILL in the middle of writing leaves an intact chain behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from adapters.audit_verify import verify
from api.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TABLE = "tally_events"


def _writer(settings: Settings, count: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    arguments = [str(settings.database_url), settings.db_schema, str(count)]
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.chain_writer", *arguments],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


def _events(conn: psycopg.Connection[Any], schema: str) -> int:
    row = conn.execute(
        sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, TABLE))
    ).fetchone()
    assert row is not None
    return int(row[0])


def _ready(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"


def test_two_writer_processes_keep_one_chain(settings: Settings) -> None:
    writers = [_writer(settings, 200), _writer(settings, 200)]
    for process in writers:
        assert process.wait(timeout=240) == 0

    with psycopg.connect(str(settings.database_url), autocommit=True) as conn:
        found = verify(conn, settings.db_schema, TABLE)
        events = _events(conn, settings.db_schema)

    assert found.ok, found.summary()
    # Each writer: 200 deposits of 2 events (no idempotency key), and its project and
    # accounts.
    assert found.checked == events > 2 * 200 * 2


def test_a_writer_killed_while_writing_leaves_an_intact_chain(settings: Settings) -> None:
    process = _writer(settings, 0)  # deposits until killed
    _ready(process)
    with psycopg.connect(str(settings.database_url), autocommit=True) as conn:
        deadline = time.monotonic() + 60
        while _events(conn, settings.db_schema) < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)  # mid-stream: batches are being written
        process.wait(timeout=30)
        time.sleep(0.5)  # the server notices the dead connection and rolls its batch back

        found = verify(conn, settings.db_schema, TABLE)
        assert found.ok, found.summary()
        assert found.checked == _events(conn, settings.db_schema) >= 300

        # And the next writer chains on where the killed one stopped.
        survivor = _writer(settings, 8)
        assert survivor.wait(timeout=120) == 0
        after = verify(conn, settings.db_schema, TABLE)
    assert after.ok, after.summary()
    assert after.checked > found.checked
