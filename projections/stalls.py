"""Read models that have stopped on an event they cannot apply ("stalled").

A read model that fails on an event (``applying.ProjectionFailed``) is never moved past
it: a ledger must not show wrong balances. It stops just before that event, loudly, and
alone: the other read models go on. Read models that read its rows (``ReadModel.reads``,
followed transitively) stop at the same position, because what they would read is
missing. Each stopped read model has a row in ``projection_stalls`` (``position``: the
notification id of the event it cannot apply; ``blocked_by``: for one that only waits,
the read model that failed), so every process sees it: ``/readyz``, the CLI, and
``current_position``, which leaves stalled read models out.

- ``stalls(pool, schema) -> list[Stall]``: every stalled read model, by name.
- ``StallBook``: the worker's side. It caps each stalled read model (and its readers)
  before the failing event, retries a failed one after a backoff (at once when a worker
  starts, so a deploy that fixes the projection resumes it), writes and clears the rows
  in the batch's own transaction, and logs each (read model, position) once, in one line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import Cursor, sql
from psycopg_pool import ConnectionPool

from projections.applying import ProjectionFailed
from projections.base import ReadModel, rows_of
from projections.schema import STALLS_TABLE, table

log = logging.getLogger("tally.projections")

STALL_RETRY_S = 5.0  # first retry of a failed read model after this long, then doubling
STALL_RETRY_MAX_S = 300.0


@dataclass(frozen=True)
class Stall:
    name: str  # the read model
    position: int  # notification id of the event it cannot apply (it holds all before)
    error: str  # "ErrorClass: message", or what it waits for
    blocked_by: str | None  # the failed read model it waits for; None if it failed itself
    since: datetime

    def line(self) -> str:
        """The one line the CLI prints and the runbook quotes."""
        return f"read model {self.name} is stalled at position {self.position}: {self.error}"


def stalls(pool: ConnectionPool[Any], schema: str) -> list[Stall]:
    """Every stalled read model of ``schema``, by name (none: an empty list)."""
    with pool.connection() as conn, conn.cursor() as cur:
        return read_stalls(cur, schema)


def read_stalls(cur: Cursor[Any], schema: str) -> list[Stall]:
    cur.execute(
        sql.SQL("SELECT name, position, error, blocked_by, since FROM {} ORDER BY name").format(
            table(schema, STALLS_TABLE)
        )
    )
    return [Stall(str(n), int(p), str(e), b, s) for n, p, e, b, s in rows_of(cur)]


def readers(models: Sequence[ReadModel]) -> dict[str, set[str]]:
    """For each read model, every read model that reads its rows, directly or not."""
    direct: dict[str, set[str]] = {m.name: set() for m in models}
    for model in models:
        for name in model.reads:
            direct.setdefault(name, set()).add(model.name)
    closure: dict[str, set[str]] = {}
    for name in direct:
        seen: set[str] = set()
        todo = list(direct[name])
        while todo:
            reader = todo.pop()
            if reader not in seen and reader != name:
                seen.add(reader)
                todo.extend(direct.get(reader, ()))
        closure[name] = seen
    return closure


_Row = tuple[int, str, str | None]  # a stall row: position, error, blocked_by


@dataclass
class _Failed:
    position: int
    error: str
    retry_at: float  # time.monotonic() of the next try
    backoff_s: float


class StallBook:
    """What one worker knows about its schema's stalled read models (see module doc)."""

    def __init__(
        self,
        schema: str,
        models: Sequence[ReadModel],
        retry_s: float = STALL_RETRY_S,
        *,
        say: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.schema = schema
        self.names = [m.name for m in models]
        self.readers = readers(models)
        self.retry_s = retry_s
        self.say = say  # log stalls (the CLI reports them itself, so it does not)
        self.clock = clock
        self.failed: dict[str, _Failed] = {}
        self.rows: dict[str, tuple[int, str | None]] = {}  # as written: position, blocked_by
        self._said: set[tuple[str, int]] = set()

    def load(self, cur: Cursor[Any]) -> None:
        """Take the recorded stalls as known; failed read models are retried at once."""
        # Rows of read models this worker does not run are not its to keep or clear.
        found = [s for s in read_stalls(cur, self.schema) if s.name in self.names]
        self.rows = {s.name: (s.position, s.blocked_by) for s in found}
        now = self.clock()
        self.failed = {
            s.name: _Failed(s.position, s.error, now, self.retry_s)
            for s in found
            if s.blocked_by is None
        }
        for stall in found:
            self._say(stall.name, stall.position, stall.error, stall.blocked_by)

    def caps(self) -> dict[str, int]:
        """The position each held-back read model may reach now: just before the event
        its failed read model cannot apply. One due for a retry is not held back."""
        now = self.clock()
        caps: dict[str, int] = {}
        for name, failed in self.failed.items():
            if failed.retry_at <= now:
                continue
            for held in (name, *self.readers.get(name, ())):
                caps[held] = min(caps.get(held, failed.position - 1), failed.position - 1)
        return caps

    def due(self) -> bool:
        now = self.clock()
        return any(f.retry_at <= now for f in self.failed.values())

    def fail(self, failed: ProjectionFailed) -> None:
        """Record that ``failed.name`` cannot apply the event at ``failed.position``."""
        known = self.failed.get(failed.name)
        backoff_s = self.retry_s
        if known is not None and known.position == failed.position:
            backoff_s = min(known.backoff_s * 2, STALL_RETRY_MAX_S)
        self.failed[failed.name] = _Failed(
            failed.position, failed.error, self.clock() + backoff_s, backoff_s
        )
        self._say(failed.name, failed.position, failed.error, None)

    def settle(self, cur: Cursor[Any], positions: dict[str, int]) -> bool:
        """After a batch, in its transaction: forget failed read models that got past
        their event, and write the stall rows that changed. True if any row changed."""
        for name in [n for n, f in self.failed.items() if positions.get(n, 0) >= f.position]:
            del self.failed[name]
            if self.say:
                log.warning("read model %s resumed past position %s", name, positions[name])
        wanted = self._wanted(positions)
        gone = [name for name in self.rows if name not in wanted]
        changed = {k: v for k, v in wanted.items() if self.rows.get(k) != (v[0], v[2])}
        if not gone and not changed:
            return False
        if gone:
            cur.execute(
                sql.SQL("DELETE FROM {} WHERE name = ANY(%s)").format(
                    table(self.schema, STALLS_TABLE)
                ),
                (gone,),
            )
        self._upsert(cur, changed.items())
        self.rows = {k: (v[0], v[2]) for k, v in wanted.items()}
        return True

    def stalled(self) -> set[str]:
        """The read models with a stall row, as this worker last wrote them."""
        return set(self.rows)

    def _wanted(self, positions: dict[str, int]) -> dict[str, _Row]:
        """Stall rows as they should be: each failed read model, and each reader of one
        that has reached the failed one's event (a reader still catching up is behind,
        not stalled)."""
        wanted: dict[str, _Row] = {}
        for name, failed in sorted(self.failed.items(), key=lambda kv: kv[1].position):
            wanted.setdefault(name, (failed.position, failed.error, None))
            for reader in sorted(self.readers.get(name, ())):
                if reader in wanted or positions.get(reader, 0) < failed.position - 1:
                    continue
                error = f"waits for read model {name}, which cannot apply that event"
                wanted[reader] = (failed.position, error, name)
                self._say(reader, failed.position, error, name)
        return wanted

    def _upsert(self, cur: Cursor[Any], rows: Iterable[tuple[str, _Row]]) -> None:
        for name, (position, error, blocked_by) in rows:
            cur.execute(
                sql.SQL(
                    "INSERT INTO {t} AS s (name, position, error, blocked_by, since) "
                    "VALUES (%s, %s, %s, %s, now()) ON CONFLICT (name) DO UPDATE SET "
                    "error = EXCLUDED.error, blocked_by = EXCLUDED.blocked_by, "
                    "since = CASE WHEN s.position = EXCLUDED.position THEN s.since "
                    "ELSE EXCLUDED.since END, position = EXCLUDED.position"
                ).format(t=table(self.schema, STALLS_TABLE)),
                (name, position, error, blocked_by),
            )

    def _say(self, name: str, position: int, error: str, blocked_by: str | None) -> None:
        """One log line per (read model, position) for the life of this worker."""
        if not self.say or (name, position) in self._said:
            return
        self._said.add((name, position))
        if blocked_by is None:
            log.error("read model %s is stalled at position %s: %s", name, position, error)
        else:
            log.warning("read model %s is stalled at position %s: %s", name, position, error)
