"""The command bus: idempotency, retries on version conflicts, and group commit.

The event store serialises writers with a table lock (held until the commit is on
disk), so one transaction per command caps throughput at one commit per disk flush. The
bus instead groups commands into batches, one transaction each, and builds the next
batch while the previous one commits.

Each caller runs its own command, on its own thread, into the batch being built (the
aggregates in memory, shared by the batch) and encodes its events, holding the bus's
mutex for that time; then it waits for its answer. One committer thread per process does
the rest, in three steps:

- take: wait until the batch being built is due (``Pacer``: at once, or after a short
  wait for returning callers), take it, seal it;
- submit: write it in one transaction, without the mutex, while callers build the next
  batch on the aggregates as this one left them;
- settle: answer its callers, or run it again if it was not written.

So a command costs no hand-off between threads except the one answer it waits for, and
each caller is answered when the batch holding its command has committed, never before.

If a batch's write conflicts (another process wrote one of its aggregates, or an
idempotency key was used before), nothing of it was written; it runs again with the
keys checked first, then each command on its own, on freshly loaded aggregates,
retrying version conflicts with backoff; the last attempt holds the event table's lock
from load to commit (``synchronous._run_alone``), so it cannot conflict. A batch built
on one that failed runs again the same way. The committer runs those synchronous paths
holding the mutex, so that the cache and the writer's connection have one user at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError

from commands.bus.context import Context, Handler, Outcome
from commands.bus.key_check import KeyRefused
from commands.bus.pipeline import Batch, Item, Pacer, Reply
from commands.bus.synchronous import SynchronousPath
from commands.bus.unit_of_work import (
    AggregateCache,
    EventWriter,
    RecorderEventWriter,
    UnitOfWork,
)
from commands.bus.usage_source import UsageSource
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
        usage: UsageSource | None = None,
    ) -> None:
        self.app = app
        self.usage = usage
        self.handlers = handlers
        self.clock = clock
        self.max_batch = max_batch
        self.max_retries = max_retries
        self.cache = AggregateCache(cache_size)
        # The mutex guards the batch being built, the aggregate cache and the pacer: a
        # caller holds it while its command runs, the committer while it takes a batch,
        # settles one, or runs commands again.
        self._mutex = threading.Lock()
        self._due = threading.Condition(self._mutex)  # the committer waits for a batch
        self._room = threading.Condition(self._mutex)  # callers wait while it is full
        self._building: Batch | None = None
        self._committer_waits = False
        self._stopping = False
        self._closed = False
        self._lock = threading.Lock()  # starting and closing
        self._committer: threading.Thread | None = None
        self._pacer = Pacer()
        # Pipelined batches committed and the commands in them; see stats().
        self._batches = 0
        self._commands = 0
        self._serialized = 0  # last attempts run under the event table's lock
        self._serialized_refused = 0  # of them, answered concurrent_update (its bounds)
        self._key_refused = 0  # writes refused by the append's check of cached API keys
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
        deadline = time.monotonic() + timeout_s
        self._take_command(item, timeout_s)
        return item.future.result(timeout=max(0.0, deadline - time.monotonic()))

    def submit(
        self,
        command: Command,
        context: Context,
        on_done: Callable[[Reply], None],
        timeout_s: float = 30.0,
    ) -> Reply:
        """Run a command into the batch being built, as ``execute`` does, but answer at
        once: ``on_done(reply)`` is called when its outcome is set (by the committer
        thread, or by this call if the command failed at once). For a caller on an event
        loop, which then needs no thread to wait for the bus (``api.routes.common.run``)."""
        if type(command) not in self.handlers:
            raise TypeError(f"no handler for {type(command).__name__}")
        self._ensure_started()
        item = Item(command, context)
        item.future.on_done = on_done
        self._take_command(item, timeout_s)
        return item.future

    def try_submit(
        self, command: Command, context: Context, on_done: Callable[[Reply], None]
    ) -> Reply | None:
        """``submit`` for a caller that must never wait here (an event loop): None, with
        nothing done, when the mutex is held (the committer may hold it for a whole
        synchronous retry, database round trips included) or the batch being built is
        full. The caller then submits from a thread, and its loop keeps serving."""
        if type(command) not in self.handlers:
            raise TypeError(f"no handler for {type(command).__name__}")
        self._ensure_started()
        if not self._mutex.acquire(blocking=False):
            return None
        try:
            if self._building is not None and len(self._building.items) >= self.max_batch:
                return None
        finally:
            self._mutex.release()
        # The mutex was free a moment ago: taking it again waits at most for a command
        # another caller has just begun running.
        return self.submit(command, context, on_done)

    def stats(self) -> dict[str, float]:
        """How well group commit is doing: pipelined batches committed, the commands
        they carried, and so the mean batch size (fallback runs are not counted); and
        how often a command's last attempt took the event table's lock (``serialized``),
        which stalls every tenant's writes for its length, and how many of those were
        refused past their bound (``serialized_refused``, ``domain/limits/``); and how many
        writes the append refused for a cached API key that no longer held
        (``key_refused``, each a batch or a command written again)."""
        batches, commands = self._batches, self._commands
        return {
            "batches": batches,
            "commands": commands,
            "mean_batch": commands / batches if batches else 0.0,
            "serialized": self._serialized,
            "serialized_refused": self._serialized_refused,
            "key_refused": self._key_refused,
        }

    def close(self) -> None:
        with self._lock:
            with self._mutex:
                self._closed = True
                self._stopping = True  # the committer writes the last batch, then stops
                self._due.notify()
                self._room.notify_all()
            if self._committer is not None:
                self._committer.join(timeout=10)
                self._committer = None
            self._writer.close()

    def _ensure_started(self) -> None:
        if self._committer is not None:
            return
        with self._lock:
            if self._closed:
                raise RuntimeError("command bus is closed")
            if self._committer is None:
                self._committer = threading.Thread(
                    target=self._commit_loop, name="tally-committer", daemon=True
                )
                self._committer.start()

    # -- callers: each runs its own command into the batch being built ------------------

    def _take_command(self, item: Item, timeout_s: float) -> None:
        if not self._mutex.acquire(timeout=timeout_s):
            raise TimeoutError("the command bus was busy for too long")
        try:
            batch = self._open_batch(timeout_s)
            if batch.broken:
                batch.items.append(item)  # the committer runs it on its own
            else:
                self._run_into(batch, item)
            # The committer, if it waits, is told of a batch that has reached the pacer's
            # target (1 when no wait is pending). While the pacer waits for returning
            # callers, the committer waits until its deadline anyway
            # (``Pacer.idle_wait_s``), so the first command need not wake it.
            size = len(batch.items)
            if self._committer_waits and (batch.broken or size >= self._pacer.target):
                self._due.notify()
        finally:
            self._mutex.release()

    def _open_batch(self, timeout_s: float) -> Batch:
        """The batch being built, once it has room (the mutex is held)."""
        while self._building is not None and len(self._building.items) >= self.max_batch:
            if not self._room.wait(timeout_s):
                raise TimeoutError("the command bus was busy for too long")
        if self._closed:
            raise RuntimeError("command bus is closed")
        if self._building is None:
            self._pacer.arrived()
            self._building = Batch(UnitOfWork(self.app, self.cache, self.usage))
        return self._building

    def _run_into(self, batch: Batch, item: Item) -> None:
        try:
            trusted = self._add(batch, item)
        except BaseException:
            # A bug in the bus itself: what the batch holds can no longer be trusted.
            batch.broken = True
            raise
        if not trusted:
            # The committer runs the batch's commands again one at a time, on fresh
            # aggregates, and every command that arrives until then with them.
            batch.broken = True
            batch.items.append(item)

    def _add(self, batch: Batch, item: Item) -> bool:
        """Run one command into the batch; False if the batch's unit of work can no longer
        be trusted (a handler recorded an event and then raised)."""
        uow = batch.uow
        record_id = item.record_id
        if record_id is not None and record_id.int not in uow.touched:
            # Optimistic: keys are nearly always new. The store's unique key catches a
            # reuse, and the batch then runs again with the existence query.
            uow.known_absent.add(record_id.int)
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
            self._keep(batch, item)
        self._pacer.command_took(time.perf_counter() - started)
        batch.items.append(item)
        return True

    def _keep(self, batch: Batch, item: Item) -> None:
        assert item.outcome is not None
        uow = batch.uow
        recorded = uow.command_recorded()
        uow.encode_command()
        if recorded or item.outcome.replayed:
            batch.done.append(item)
        else:
            # It wrote nothing, so, like a refusal, no version check confirms what it
            # read (a cached copy may be stale): decide it again after the commit.
            batch.refused.append(item)

    # -- committer thread: take, submit, settle ------------------------------------------

    def _commit_loop(self) -> None:
        while True:
            try:
                batch = self._take_batch()
            except Exception:  # a bug must not kill the committer silently
                log.exception("taking a command batch failed")
                continue
            if batch is None:
                return
            self._submit(batch)
            try:
                with self._mutex:
                    self._settle(batch)
            except Exception as exc:
                log.exception("settling a command batch failed")
                self._fail(batch, exc)

    def _take_batch(self) -> Batch | None:
        """Wait for the batch being built to be due, take it and seal it; None once the
        bus is stopping and nothing is left. Broken batches are run here, one command at
        a time, and never returned."""
        with self._mutex:
            while True:
                batch = self._wait_for_batch()
                if batch is None:
                    return None
                self._building = None
                self._room.notify_all()
                if batch.broken:
                    self._run_again_alone(batch)
                elif self._seal(batch):
                    return batch

    def _wait_for_batch(self) -> Batch | None:
        """The batch being built, once it is due (the mutex is held)."""
        while True:
            batch = self._building
            if batch is not None and (
                batch.broken or self._stopping or self._pacer.ready(len(batch.items))
            ):
                return batch
            if batch is None and self._stopping:
                return None
            self._committer_waits = True
            try:
                pacer_s = self._pacer.wait_s() if batch is not None else self._pacer.idle_wait_s()
                self._due.wait(pacer_s)
            finally:
                self._committer_waits = False

    def _seal(self, batch: Batch) -> bool:
        """Encode the batch's events; later batches build on its aggregates, which
        therefore go into the cache now. False if it could not be sealed."""
        try:
            batch.sealed = batch.uow.seal()
        except Exception as exc:
            log.exception("sealing a command batch failed")
            self.cache.evict(batch.uow.ids())
            self._fail(batch, exc)
            return False
        batch.uow.keep_in(self.cache)
        return True

    def _submit(self, batch: Batch) -> None:
        """Write the batch in one transaction. The mutex is not held: callers go on
        building the next batch meanwhile."""
        assert batch.sealed is not None
        sealed = batch.sealed
        started = time.perf_counter()
        try:
            ids: list[int] = []
            if sealed.events:
                # The keys its answered commands were authenticated with from a key cache,
                # confirmed under the table's lock (``KeyCheck``); a refused one fails the
                # batch like a conflict, and its commands run again one at a time.
                keys = [i.context.key_check for i in batch.done if i.context.key_check]
                ids = self._writer.write(sealed.events, sealed.reads, keys)
            batch.position = self._position(ids)
        except Exception as exc:
            batch.error = exc
        batch.commit_s = time.perf_counter() - started

    def _settle(self, batch: Batch) -> None:
        """Answer the batch's callers, or run it again if it was not written; either way
        decide its refusals again on fresh aggregates (the mutex is held)."""
        if batch.error is not None:
            self._settle_failed(batch, batch.error)
            return
        waiting = len(self._building.items) if self._building is not None else 0
        self._pacer.committed(len(batch.items), batch.commit_s, waiting)
        self._batches += 1
        self._commands += len(batch.items)
        assert batch.sealed is not None
        checked = bool(batch.sealed.events)  # the write confirmed every key of batch.done
        for item in batch.done:
            assert item.outcome is not None
            item.outcome.position = batch.position
            item.outcome.key_checked = checked
            item.future.set_result(item.outcome)
        self._write_snapshots(batch.sealed.snapshots)
        self._run_each_alone(batch.refused)

    def _settle_failed(self, batch: Batch, error: BaseException) -> None:
        self.cache.evict(batch.uow.ids())
        if isinstance(error, KeyRefused):
            # Refused keys: their commands are answered 401 and the rest run again as
            # one batch (not the whole batch again, which would be refused again).
            if not self._retry_without_refused(batch.items, error, check_keys=True):
                self._run_each_alone(batch.items)
        elif isinstance(error, IntegrityError):
            # A reused idempotency key, or another process wrote one of its aggregates.
            if not self._try_batch(batch.items, check_keys=True):
                self._run_each_alone(batch.items)
        else:
            self._fail(batch, error)
        # The batch built meanwhile started from this one's aggregates: run it again,
        # synchronously, on fresh ones.
        building, self._building = self._building, None
        self._room.notify_all()
        if building is not None:
            self.cache.evict(building.uow.ids())
            self._run_batch(building.items)

    def _run_again_alone(self, batch: Batch) -> None:
        """Run a broken batch's commands again, one at a time, on fresh aggregates."""
        self.cache.evict(batch.uow.ids())
        self._run_each_alone(batch.items)

    def _fail(self, batch: Batch, exc: BaseException) -> None:
        for item in batch.items:
            if not item.future.done():
                item.future.set_exception(exc)
