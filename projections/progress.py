"""Where the read models are, told across processes: a worker's NOTIFY, a reader's LISTEN.

A reader waiting for its write's position (``wait_for_position``) wakes at once when a
worker of its own process commits a batch (``registry.publish``); otherwise it polls the
tracking table, at growing intervals up to 50 ms. When the worker runs in another
process (``tally serve`` runs it in one of its own, ``api.projection_process``), that
poll would add up to 50 ms to every read-your-writes wait. So:

- a worker made with ``notify_progress=True`` sends ``notify(cur, schema, position,
  lower)`` in each batch's transaction (Postgres delivers it at the commit, never for a
  batch rolled back);
- ``ProgressListener(conninfo, schema)``, run by every server process that runs no worker
  itself, LISTENs on that channel and ``publish``-es what it hears, which wakes the
  waiting readers of its process as a worker in the process would.

The poll stays, as the fallback for a lost connection or a missed notification.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import psycopg
from psycopg import Cursor, sql

from projections.registry import publish

log = logging.getLogger("tally.projections")

RECONNECT_S = 1.0  # pause before listening again after a lost connection
STOP_CHECK_S = 0.2  # how often an idle listener checks whether it was asked to stop


def channel(schema: str) -> str:
    """The channel of ``schema``'s progress (schema names are at most 41 characters)."""
    return f"tally_progress_{schema}"


def notify(cur: Cursor[Any], schema: str, position: int, lower: bool) -> None:
    """Announce, at the caller's commit, that the read models reached ``position``."""
    payload = f"{position}:lower" if lower else str(position)
    cur.execute("SELECT pg_notify(%s, %s)", (channel(schema), payload))


def parse(payload: str) -> tuple[int, bool] | None:
    """``(position, lower)`` from a payload of ``notify``; None for anything else."""
    number, _, flag = payload.partition(":")
    if not number.isdigit() or flag not in ("", "lower"):
        return None
    return int(number), flag == "lower"


class ProgressListener:
    """Wakes this process's waiting readers when another process's worker commits."""

    def __init__(self, conninfo: str, schema: str) -> None:
        self.conninfo = conninfo
        self.schema = schema
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"tally-progress-{self.schema}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel(self.schema))))
                    self._listen(conn)
            except psycopg.Error as exc:
                # Readers still poll meanwhile: a lost listener only makes waits longer.
                log.warning(
                    "progress listener for %s lost its connection (%s); listening again",
                    self.schema,
                    type(exc).__name__,
                )
                self._stopping.wait(RECONNECT_S)

    def _listen(self, conn: psycopg.Connection[Any]) -> None:
        key = (self.conninfo, self.schema)
        while not self._stopping.is_set():
            for note in conn.notifies(timeout=STOP_CHECK_S):
                told = parse(note.payload)
                if told is not None:
                    publish(key, told[0], lower=told[1])
                if self._stopping.is_set():
                    return
