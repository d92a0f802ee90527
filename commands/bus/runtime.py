"""The command bus: idempotency, retries on version conflicts, and group commit.

The event store serialises writers with a table lock (held until the commit is on
disk), so one transaction per command caps throughput at one commit per disk flush. The
bus instead has one writer thread and one committer thread per process. Callers enqueue
a command and block. The writer runs each arriving command into the current batch's unit
of work (the aggregates in memory) and encodes its events, while the committer writes
the previous batch in one transaction. When that one has committed, the writer hands the
next batch over (at once, or after a short wait for returning callers: ``Pacer``)
and then answers the committed batch's callers. Each caller is answered when the batch
holding its command has committed, never before.

If a batch's write conflicts (another process wrote one of its aggregates, or an
idempotency key was used before), nothing of it was written; it runs again with the
keys checked first, then each command on its own, on freshly loaded aggregates,
retrying version conflicts a bounded number of times before answering
``concurrent_update``. A batch built on one that failed runs again the same way.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError

from commands.bus.context import Context, Handler, Outcome
from commands.bus.pipeline import Batch, Item, Pacer, Wake
from commands.bus.synchronous import SynchronousPath
from commands.bus.unit_of_work import (
    AggregateCache,
    EventWriter,
    RecorderEventWriter,
    UnitOfWork,
)
from commands.messages import Command
from domain.clock import Clock
from domain.errors import DomainError

log = logging.getLogger("tally.bus")

__all__ = ["CommandBus"]


class CommandBus(SynchronousPath):
    def __init__(
        self,
        app: Application[UUID],
        handlers: dict[type[Command], Handler],
        clock: Clock,
        *,
        max_batch: int = 256,
        max_retries: int = 8,
        cache_size: int = 10_000,
        writer: EventWriter | None = None,
    ) -> None:
        self.app = app
        self.handlers = handlers
        self.clock = clock
        self.max_batch = max_batch
        self.max_retries = max_retries
        self.cache = AggregateCache(cache_size)
        self._queue: queue.SimpleQueue[Item | Wake | None] = queue.SimpleQueue()
        self._commits: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._committer: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._pacer = Pacer()
        # Pipelined batches committed and the commands in them; see stats().
        self._batches = 0
        self._commands = 0
        # The composition root passes the Postgres writer; the default writes through the
        # recorder's interface (any recorder, e.g. the in-memory one).
        self._writer = writer or RecorderEventWriter(app.recorder)

    # -- public ------------------------------------------------------------------------

    def execute(self, command: Command, context: Context, timeout_s: float = 30.0) -> Outcome:
        """Run a command and return its outcome once its events are committed."""
        if type(command) not in self.handlers:
            raise TypeError(f"no handler for {type(command).__name__}")
        self._ensure_started()
        item = Item(command, context)
        self._queue.put(item)
        return item.future.result(timeout=timeout_s)

    def stats(self) -> dict[str, float]:
        """How well group commit is doing: pipelined batches committed, the commands
        they carried, and so the mean batch size (fallback runs are not counted)."""
        batches, commands = self._batches, self._commands
        return {
            "batches": batches,
            "commands": commands,
            "mean_batch": commands / batches if batches else 0.0,
        }

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._thread is not None:
                self._queue.put(None)  # the writer settles its last batch, then stops
                self._thread.join(timeout=10)
                self._thread = None
            if self._committer is not None:
                self._commits.put(None)
                self._committer.join(timeout=10)
                self._committer = None
            self._writer.close()

    # -- writer thread: run commands into a batch while the previous one commits --------

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._closed:
                raise RuntimeError("command bus is closed")
            if self._thread is None:
                self._committer = threading.Thread(
                    target=self._commit_loop, name="tally-committer", daemon=True
                )
                self._committer.start()
                self._thread = threading.Thread(target=self._run, name="tally-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        """Pipelined group commit. At most one batch is being committed (by the committer
        thread) while the writer runs newly arrived commands into the next one, on the
        aggregates as the committing batch left them. When the committing batch has
        settled, the next one is sealed and handed over (at once, or when the pacer's short
        wait for returning callers ends) before the settled one's callers are answered:
        batches grow by themselves to what arrives during one commit.

        A batch built on one that then failed is not submitted: both go through the
        synchronous path on fresh aggregates. No caller is ever answered before the
        batch holding its command has committed."""
        inflight: Batch | None = None
        building: Batch | None = None
        finishing: Batch | None = None
        stopping = False
        while True:
            try:
                if inflight is not None and inflight.settled.is_set():
                    finishing, inflight = inflight, None
                    if finishing.error is not None:
                        self._finish(finishing)  # runs it again, on fresh aggregates
                        self._abandon(building)
                        building = None
                    else:
                        waiting = len(building.items) if building is not None else 0
                        self._pacer.committed(len(finishing.items), finishing.commit_s, waiting)
                        due = building is not None and (
                            stopping or self._pacer.ready(len(building.items))
                        )
                        if building is not None and due and not finishing.refused:
                            # Keep the store busy: hand the next batch over before
                            # answering this one's callers.
                            inflight, building = self._submit(building), None
                        self._finish(finishing)
                    finishing = None
                due = building is not None and (stopping or self._pacer.ready(len(building.items)))
                if building is not None and inflight is None and due:
                    inflight, building = self._submit(building), None
                if stopping and inflight is None:
                    return
                full = building is not None and len(building.items) >= self.max_batch
                if inflight is not None and full:
                    inflight.settled.wait()
                    continue
                lingering = building is not None and inflight is None
                try:
                    message = self._queue.get(timeout=self._pacer.wait_s() if lingering else None)
                except queue.Empty:
                    continue
                if message is None:
                    stopping = True
                    continue
                if isinstance(message, Wake):
                    continue
                if building is None:
                    self._pacer.arrived()
                    building = Batch(UnitOfWork(self.app, self.cache))
                if not self._add(building, message):
                    # The unit of work is untrustworthy: let the committing batch settle,
                    # then run this one again one command at a time on fresh aggregates.
                    if inflight is not None:
                        inflight.settled.wait()
                        self._finish(inflight)
                        inflight = None
                    self.cache.evict(list(building.uow.touched))
                    self._run_each_alone([*building.items, message])
                    building = None
            except BaseException as exc:  # a bug must not kill the writer silently
                log.exception("command batch failed")
                if building is not None:
                    self.cache.evict(list(building.uow.touched))
                    self._fail(building, exc)
                    building = None
                if inflight is not None and inflight.settled.is_set():
                    finishing, inflight = inflight, None
                if finishing is not None:
                    self._fail(finishing, exc)
                    finishing = None

    def _add(self, batch: Batch, item: Item) -> bool:
        """Run one command into the batch; False if the batch's unit of work can no longer
        be trusted (a handler recorded an event and then raised)."""
        uow = batch.uow
        if item.record_id is not None and item.record_id not in uow.touched:
            # Optimistic: keys are nearly always new. The store's unique key catches a
            # reuse, and the batch then runs again with the existence query.
            uow.known_absent.add(item.record_id)
        uow.begin_command()
        started = time.perf_counter()
        try:
            item.outcome = self._run_one(uow, item)
        except DomainError:
            if uow.command_recorded():
                log.error("%s raised after recording events", type(item.command).__name__)
                return False
            batch.refused.append(item)
        except Exception as exc:
            if uow.command_recorded():
                log.exception("%s failed after recording events", type(item.command).__name__)
                return False
            log.exception("%s failed", type(item.command).__name__)
            item.future.set_exception(exc)
        else:
            recorded = uow.command_recorded()
            uow.encode_command()
            if recorded or item.outcome.replayed:
                batch.done.append(item)
            else:
                # It wrote nothing, so, like a refusal, no version check confirms what it
                # read (a cached copy may be stale): decide it again after the commit.
                batch.refused.append(item)
        self._pacer.command_took(time.perf_counter() - started)
        batch.items.append(item)
        return True

    def _submit(self, batch: Batch) -> Batch | None:
        """Encode the batch's events and hand it to the committer; later batches build on
        its aggregates, which therefore go into the cache now."""
        try:
            batch.sealed = batch.uow.seal()
        except BaseException as exc:
            self.cache.evict(list(batch.uow.touched))
            self._fail(batch, exc)
            return None
        for aggregate in batch.uow.touched.values():
            self.cache.put(aggregate)
        self._commits.put(batch)
        return batch

    def _finish(self, batch: Batch) -> bool:
        """Finish a batch the committer is done with: answer its callers, or run it again
        if it was not written (then return False). Runs commands on the writer's
        connection only when no other batch is being committed."""
        if batch.error is None:
            self._batches += 1
            self._commands += len(batch.items)
            for item in batch.done:
                assert item.outcome is not None
                item.outcome.position = batch.position
                item.future.set_result(item.outcome)
            assert batch.sealed is not None
            self._write_snapshots(batch.sealed.snapshots)
            self._run_each_alone(batch.refused)
            return True
        self.cache.evict(list(batch.uow.touched))
        if isinstance(batch.error, IntegrityError):
            # A reused idempotency key, or another process wrote one of its aggregates.
            if not self._try_batch(batch.items, check_keys=True):
                self._run_each_alone(batch.items)
        else:
            self._fail(batch, batch.error)
        return False

    def _abandon(self, batch: Batch | None) -> None:
        """Run again, synchronously, a batch built on one that failed."""
        if batch is not None:
            self.cache.evict(list(batch.uow.touched))
            self._run_batch(batch.items)

    def _fail(self, batch: Batch, exc: BaseException) -> None:
        for item in batch.items:
            if not item.future.done():
                item.future.set_exception(exc)

    # -- committer thread: one transaction per batch -------------------------------------

    def _commit_loop(self) -> None:
        while True:
            batch = self._commits.get()
            if batch is None:
                return
            try:
                assert batch.sealed is not None
                started = time.perf_counter()
                sealed = batch.sealed
                ids = self._writer.write(sealed.events, sealed.reads) if sealed.events else []
                batch.commit_s = time.perf_counter() - started
                batch.position = self._position(ids)
            except BaseException as exc:
                batch.error = exc
            # The writer answers the callers, after it has handed over the next batch.
            batch.settled.set()
            self._queue.put(Wake())
