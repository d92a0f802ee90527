"""The command bus: idempotency, retries on version conflicts, and group commit.

The event store serialises writers with a table lock, so one transaction per command
caps throughput at one commit per round trip. The bus instead has one writer thread per
process. Callers enqueue a command and block; the writer drains the queue, runs every
queued command against one unit of work, and saves all their events in one ``save()``
call (one transaction). Each caller is answered when its batch has committed.

If a batch's save conflicts (another process wrote one of its aggregates, or the same
idempotency key), nothing of the batch was written; the bus then runs each command on its
own, on freshly loaded aggregates, retrying version conflicts a bounded number of times
before answering ``concurrent_update``.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.persistence import IntegrityError

from commands.messages import Command
from commands.unit_of_work import AggregateCache, EventWriter, RecorderEventWriter, UnitOfWork
from domain.base import current_actor
from domain.clock import Clock
from domain.errors import ConcurrentUpdate, DomainError
from domain.idempotency import IdempotencyRecord, request_hash

log = logging.getLogger("tally.bus")


@dataclass(frozen=True)
class Context:
    """Who asks, for which project, and under which idempotency key."""

    project_id: UUID
    actor: str
    idempotency_key: str | None = None
    now: datetime | None = None


@dataclass
class Outcome:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False
    position: int | None = None


Handler = Callable[[UnitOfWork, Any, Context], tuple[int, dict[str, Any]]]


@dataclass
class _Item:
    command: Command
    context: Context
    future: Future[Outcome] = field(default_factory=Future)
    outcome: Outcome | None = None


class CommandBus:
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
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        # The composition root passes the Postgres writer; the default writes through the
        # recorder's interface (any recorder, e.g. the in-memory one).
        self._writer = writer or RecorderEventWriter(app.recorder)

    # -- public ------------------------------------------------------------------------

    def execute(self, command: Command, context: Context, timeout_s: float = 30.0) -> Outcome:
        """Run a command and return its outcome once its events are committed."""
        if type(command) not in self.handlers:
            raise TypeError(f"no handler for {type(command).__name__}")
        self._ensure_started()
        item = _Item(command, context)
        self._queue.put(item)
        return item.future.result(timeout=timeout_s)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join(timeout=10)
                self._thread = None
            self._writer.close()

    # -- writer thread -----------------------------------------------------------------

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._closed:
                raise RuntimeError("command bus is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="tally-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(nxt)
            try:
                self._run_batch(batch)
            except BaseException as exc:  # a bug must not kill the writer silently
                log.exception("command batch failed")
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)

    def _run_batch(self, batch: list[_Item]) -> None:
        # Optimistic first: keys are nearly always new, so assume none of the batch's
        # idempotency records exists and let the store's unique key catch a reuse. A
        # conflict costs one more pass with the existence query (and fresh aggregates);
        # only a second conflict sends the commands through one by one.
        if self._try_batch(batch, check_keys=False):
            return
        if self._try_batch(batch, check_keys=True):
            return
        self._run_each_alone(batch)

    def _try_batch(self, batch: list[_Item], *, check_keys: bool) -> bool:
        """Run and save ``batch`` as one transaction; answer its callers and return True,
        or return False (nothing written, nobody answered) when the save conflicted."""
        uow = UnitOfWork(self.app, self.cache)
        uow.known_absent = self._absent_idempotency_records(batch, check=check_keys)
        done: list[_Item] = []
        refused: list[_Item] = []
        for item in batch:
            mark = uow.pending_count()
            try:
                item.outcome = self._run_one(uow, item)
                done.append(item)
            except DomainError:
                if uow.pending_count() != mark:
                    # The handler changed an aggregate before it refused: the shared unit
                    # of work is no longer trustworthy, so start again one by one.
                    log.error("%s raised after recording events", type(item.command).__name__)
                    self.cache.evict(list(uow.touched))
                    self._run_each_alone(batch)
                    return True
                # A refusal writes nothing, so no version check ever confirms what it read;
                # a cached aggregate may be stale (another process wrote it). Decide it
                # again on fresh aggregates once this batch has committed.
                refused.append(item)
        try:
            positions = self._save(uow.dirty())
        except IntegrityError:
            self.cache.evict(list(uow.touched))
            return False
        except BaseException:
            self.cache.evict(list(uow.touched))
            raise
        for aggregate in uow.touched.values():
            self.cache.put(aggregate)
        self._answer(done, positions)
        self._run_each_alone(refused)
        return True

    def _run_each_alone(self, batch: list[_Item]) -> None:
        for item in batch:
            if item.future.done():
                continue
            try:
                item.future.set_result(self._run_alone(item))
            except DomainError as exc:
                item.future.set_exception(exc)

    def _run_alone(self, item: _Item) -> Outcome:
        for attempt in range(self.max_retries):
            uow = UnitOfWork(self.app, cache=None)
            outcome = self._run_one(uow, item)
            try:
                positions = self._save(uow.dirty())
            except IntegrityError:
                # Someone else wrote one of these aggregates first; back off with jitter so
                # that competing writers do not collide again in lock step.
                time.sleep(min(0.2, 0.005 * 2**attempt) * random.random())  # noqa: S311
                continue
            for aggregate in uow.touched.values():
                self.cache.put(aggregate)
            outcome.position = self._position(positions)
            return outcome
        raise ConcurrentUpdate(
            f"gave up after {self.max_retries} attempts: the same records kept changing",
            attempts=self.max_retries,
        )

    def _run_one(self, uow: UnitOfWork, item: _Item) -> Outcome:
        command, ctx = item.command, item.context
        if ctx.now is None:
            ctx = Context(ctx.project_id, ctx.actor, ctx.idempotency_key, self.clock.now())
        digest = ""
        record_id: UUID | None = None
        if ctx.idempotency_key is not None:
            digest = request_hash(type(command).__name__, command.model_dump(mode="json"))
            record_id = IdempotencyRecord.create_id(ctx.project_id, ctx.idempotency_key)
            record = uow.find(IdempotencyRecord, record_id)
            if record is not None:
                record.check_same_request(digest)
                return Outcome(record.status_code, record.response, replayed=True)
        token = current_actor.set(ctx.actor)
        try:
            status, body = self.handlers[type(command)](uow, command, ctx)
            if record_id is not None and ctx.idempotency_key is not None:
                uow.add(
                    IdempotencyRecord(
                        project_id=ctx.project_id,
                        key=ctx.idempotency_key,
                        request_hash=digest,
                        status_code=status,
                        response=body,
                    )
                )
        finally:
            current_actor.reset(token)
        return Outcome(status, body)

    def _absent_idempotency_records(self, batch: list[_Item], *, check: bool) -> set[UUID]:
        """The batch's idempotency record ids that are not in the store: one query for the
        whole batch when ``check``, else all of them (the optimistic assumption)."""
        ids = {
            IdempotencyRecord.create_id(i.context.project_id, i.context.idempotency_key)
            for i in batch
            if i.context.idempotency_key is not None
        }
        if not ids or not check:
            return ids
        return ids - self._writer.existing(ids)

    def _save(self, aggregates: list[Aggregate]) -> list[int]:
        """Record the aggregates' pending events in one transaction; return their positions.

        This is ``Application.save()`` without its per-object protocol checks (costly
        ``isinstance`` calls against runtime-checkable protocols) and with snapshots
        taken from the aggregates in hand rather than re-read from the store."""
        events = [e for aggregate in aggregates for e in aggregate.collect_events()]
        if not events:
            return []
        to_stored_event = self.app.mapper.to_stored_event
        positions = self._writer.write([to_stored_event(e) for e in events])
        self._take_snapshots(aggregates, events)
        return positions

    def _take_snapshots(self, aggregates: list[Aggregate], events: list[Any]) -> None:
        """Snapshot each aggregate whose new events crossed its snapshotting interval.

        The aggregates in hand are exactly the recorded state at their current version
        (the save just succeeded on it), so a snapshot at that version is as good as the
        library's, without reading the aggregate's history back from the store. A failed
        snapshot is logged, never raised: the events are committed and a snapshot only
        speeds up later loads."""
        intervals = self.app.snapshotting_intervals
        if not intervals or self.app.snapshots is None:
            return
        by_id = {a.id: a for a in aggregates}
        due = set()
        for e in events:
            interval = intervals.get(type(by_id[e.originator_id]))
            if interval and e.originator_version % interval == 0:
                due.add(e.originator_id)
        for aggregate_id in due:
            aggregate = by_id[aggregate_id]
            snapshot_class = getattr(type(aggregate), "Snapshot", None) or Snapshot
            try:
                self.app.snapshots.put([snapshot_class.take(aggregate)])
            except Exception:
                log.exception("snapshot of %s at %s failed", aggregate_id, aggregate.version)

    def _position(self, positions: list[int]) -> int | None:
        if positions:
            return max(positions)
        head: int | None = self.app.recorder.max_notification_id()
        return head

    def _answer(self, done: list[_Item], positions: list[int]) -> None:
        position = self._position(positions)
        for item in done:
            assert item.outcome is not None
            item.outcome.position = position
            item.future.set_result(item.outcome)
