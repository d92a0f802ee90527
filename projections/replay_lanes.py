"""Replay's two database sessions ("lanes"), each rebuilding its own read models at once.

A rebuild on one session ran its Python and its Postgres work one after the other: the
replaying thread waited for every statement, and Postgres waited for the next one. The
scratch tables are temporary tables, which only their own session can see, so the read
models are split between two sessions (``split``), each applied by a thread of its own
(``Lane``) from the same decoded batches: while one lane waits for its statements the
other runs its Python, and the two backends work on both cores.

- ``split(classes) -> (main, second)``: each lane's ``Plan``. The second lane rebuilds
  the journal and the system accounts (``SECOND_LANE``), the largest share of the work,
  and every read model they read while applying (``ReadModel.reads``, transitively) as
  a copy of its own; the main lane rebuilds every other read model. Each table is
  compared by one lane: the second lane's own read models' tables by it, every other
  by the main one.
- ``Lane(conn, models)``: a thread that runs jobs in order on its connection (creating
  its scratch tables, applying batch after batch, comparing); ``submit`` hands it one,
  ``wait`` returns when it has run them all and raises the first failure.
- ``earliest(failures)``: which of the lanes' failures replay reports: the one a
  rebuild on one session would have met first (the earliest batch, then the read model
  applied first), so the report does not depend on which thread was faster.

Both lanes apply every batch with ``projections.applying.project_batch``, the live
worker's code, to tables made from the same definitions; what a lane builds does not
depend on the other (each holds every read model its own ones read), so the rebuilt
tables are the same as one session would build.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic

from projections.applying import ProjectionFailed
from projections.base import ReadModel, Tracked
from projections.decoding import FastDecoder
from projections.tables import TABLES
from projections.transactions import Transactions

# The journal and the system accounts took about half of a rebuild's Python time and
# half of its database time (a 103,000-event ledger log: the journal 0.36 s of 0.85 s of
# applying, and its entries and postings the largest COPYs); the transactions they read
# are applied in both lanes (0.14 s), the other read models they read had no events.
SECOND_LANE = frozenset({"journal", "system_accounts"})


@dataclass(frozen=True)
class Plan:
    """What one lane rebuilds: its read models (in ``classes`` order), the tables it
    compares, and the tables it needs no scratch copy of (those of the read models the
    other lane runs alone: creating the sixty-odd temporary tables cost 0.15 s of
    database CPU a session)."""

    classes: list[type[ReadModel]]
    compares: frozenset[str]
    skips: frozenset[str]


def split(classes: Sequence[type[ReadModel]]) -> tuple[Plan, Plan]:
    """The main lane's plan and the second lane's."""
    by_name = {cls.name: cls for cls in classes}
    needed: set[str] = set()
    todo = [name for name in SECOND_LANE if name in by_name]
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo.extend(by_name[name].reads)
    main = [cls for cls in classes if cls.name not in SECOND_LANE]
    second = [cls for cls in classes if cls.name in needed]
    second_only = frozenset(t for cls in second if cls.name in SECOND_LANE for t in cls.tables)
    main_only = frozenset(t for cls in classes if cls.name not in needed for t in cls.tables)
    # A table no read model names (written beside another's) is made in both lanes and
    # compared by the main one.
    everything = frozenset(t.name for t in TABLES)
    return (
        Plan(main, everything - second_only, second_only),
        Plan(second, second_only, main_only),
    )


# Events both lanes may apply as the same objects: the read models that handle them
# (transactions, journal, system accounts, payment objects, integration events) only
# read their attributes (``tests/integration/test_replay_lanes_events.py`` checks that
# applying a workload's events leaves them as decoded). They are most of a ledger log.
SHARED: frozenset[type] = Transactions.handles

_NOT_WANTED, _SHARE, _OWN = 0, 1, 2


class PairDecoder:
    """Each event with the second lane's copy of it: ``(main's, second's)``, the second
    None for the events no read model of the second lane handles.

    The lanes must not share the other events: read models that fold events with the
    domain's own ``@event`` bodies (``projections.aggregates``, invoices) may keep a
    dict an event holds in the aggregate and change it later (a payment an invoice
    recorded, refunded by a credit note), so a lane applying the events the other lane
    had applied found them changed (a payment refunded twice over). The second lane's
    copies of those are decoded again; the ``SHARED`` ones are the same objects (decoding
    a ledger log's transactions twice cost 0.17 s of CPU per 100,000 events)."""

    def __init__(self, store: Application[Any], second: Sequence[ReadModel]) -> None:
        self._main = FastDecoder(store)
        self._second = FastDecoder(store)
        self._handled = frozenset(kind for model in second for kind in model.handles)
        self._wanted: dict[str, int] = {}

    def _wants(self, topic: str) -> int:
        wanted = self._wanted.get(topic)
        if wanted is None:
            kind = resolve_topic(topic)
            wanted = _SHARE if kind in SHARED else _OWN
            self._wanted[topic] = wanted = wanted if kind in self._handled else _NOT_WANTED
        return wanted

    def __call__(self, n: Notification) -> tuple[Any, Any]:
        first, wanted = self._main(n), self._wants(n.topic)
        return first, first if wanted == _SHARE else self._second(n) if wanted else None

    def row(self, originator_id: Any, version: int, topic: str, state: bytes) -> tuple[Any, Any]:
        first = self._main.row(originator_id, version, topic, state)
        wanted = self._wants(topic)
        if wanted == _SHARE:
            return first, first
        if wanted == _NOT_WANTED:
            return first, None
        return first, self._second.row(originator_id, version, topic, state)


def unpair(events: Sequence[Tracked]) -> tuple[list[Tracked], list[Tracked]]:
    """The main lane's events and the second lane's, from a batch ``PairDecoder`` read."""
    main = [(pair[0], position) for pair, position in events]
    second = [(pair[1], position) for pair, position in events if pair[1] is not None]
    return main, second


@dataclass(frozen=True)
class Failure:
    batch: int  # the batch's index in the rebuild (-1: before the first, e.g. creating tables)
    error: BaseException


Job = Callable[[psycopg.Connection[Any]], None]


class Lane:
    """One scratch session and the thread that works on it."""

    def __init__(self, conn: psycopg.Connection[Any], models: list[ReadModel], name: str) -> None:
        self.conn = conn
        self.models = models
        self.positions = {m.name: 0 for m in models}
        self.failure: Failure | None = None
        self._jobs: queue.Queue[tuple[int, Job] | None] = queue.Queue(maxsize=2)
        self._thread = threading.Thread(target=self._run, name=f"tally-replay-{name}", daemon=True)
        self._thread.start()

    def submit(self, batch: int, job: Job) -> None:
        """Run ``job`` after the ones submitted before (``batch`` names it in a failure).
        Blocks while two jobs are waiting: a lane stays at most that far behind."""
        self._jobs.put((batch, job))

    def wait(self) -> None:
        """Return when every submitted job has run (or been skipped after a failure)."""
        self._jobs.join()

    def close(self) -> None:
        """Stop the thread once it has run (or, after a failure, skipped) what it holds."""
        self._jobs.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            try:
                if item is None:
                    return
                # After a failure the lane skips the rest: its transaction state is gone.
                if self.failure is None:
                    batch, job = item
                    try:
                        job(self.conn)
                    except BaseException as exc:  # raised by ``wait`` in the caller's thread
                        self.failure = Failure(batch, exc)
            finally:
                self._jobs.task_done()


def settle(lanes: Sequence[Lane], order: Sequence[str]) -> None:
    """Wait for every lane; raise the failure a one-session rebuild would have raised:
    the earliest batch, then, in one batch, the read model applied first (``order``);
    an error that is no read model's (a lost connection) before those."""
    for lane in lanes:
        lane.wait()
    failures = [lane.failure for lane in lanes if lane.failure is not None]
    if not failures:
        return

    def key(failure: Failure) -> tuple[int, int]:
        error = failure.error
        if isinstance(error, ProjectionFailed) and error.name in order:
            return failure.batch, order.index(error.name)
        return failure.batch, -1

    raise min(failures, key=key).error
