"""The command bus's synchronous path: a batch, or one command, run and written at once
on the calling (writer) thread. The bus takes it for what the pipeline cannot do: a batch
that conflicted, a batch built on one that failed, refusals to decide again on fresh
aggregates. It runs only while no batch is being committed, because it writes on the
same kept connection."""

from __future__ import annotations

import logging
import random
import time
from contextlib import nullcontext
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, StoredEvent

from commands.bus.context import Context, Handler, Happened, Outcome, Result
from commands.bus.key_check import KEY_REFUSAL, KeyCheck, KeyRefused
from commands.bus.pipeline import Item
from commands.bus.unit_of_work import AggregateCache, EventWriter, UnitOfWork
from commands.bus.usage_source import UsageSource
from commands.messages import Command
from domain.base import current_actor
from domain.clock import Clock
from domain.errors import ConcurrentUpdate, DomainError, Unauthenticated
from domain.idempotency import IdempotencyRecord, request_hash

log = logging.getLogger("tally.bus")


class SynchronousPath:
    """Mixed into ``CommandBus``, which sets these attributes."""

    app: Application[UUID]
    handlers: dict[type[Command], Handler]
    clock: Clock
    max_retries: int
    cache: AggregateCache
    _serialized: int
    _serialized_refused: int
    _key_refused: int
    usage: UsageSource | None
    _writer: EventWriter

    def _run_batch(self, batch: list[Item]) -> None:
        # Optimistic first, then with the existence query (and fresh aggregates); only a
        # second conflict sends the commands through one by one.
        if self._try_batch(batch, check_keys=False):
            return
        if self._try_batch(batch, check_keys=True):
            return
        self._run_each_alone(batch)

    def _try_batch(self, batch: list[Item], *, check_keys: bool) -> bool:
        """Run and save ``batch`` as one transaction; answer its callers and return True,
        or return False (nothing written, nobody answered) when the save conflicted."""
        uow = UnitOfWork(self.app, self.cache, self.usage)
        uow.known_absent = self._absent_idempotency_records(batch, check=check_keys)
        done: list[Item] = []
        refused: list[Item] = []
        for item in batch:
            if item.future.done():
                continue
            uow.begin_command()
            try:
                item.outcome = self._run_one(uow, item)
                if uow.command_recorded() or item.outcome.replayed:
                    done.append(item)
                else:
                    refused.append(item)  # wrote nothing: decide again, as a refusal
            except DomainError:
                if uow.command_recorded():
                    log.error("%s raised after recording events", type(item.command).__name__)
                    self.cache.evict(uow.ids())
                    self._run_each_alone(batch)
                    return True
                refused.append(item)
        try:
            positions = self._save(uow, [i.context.key_check for i in done if i.context.key_check])
        except KeyRefused as refusal:
            self.cache.evict(uow.ids())
            return self._retry_without_refused(batch, refusal, check_keys=check_keys)
        except IntegrityError:
            self.cache.evict(uow.ids())
            return False
        except BaseException:
            self.cache.evict(uow.ids())
            raise
        uow.keep_in(self.cache)
        self._answer(done, positions)
        self._run_each_alone(refused)
        return True

    def _retry_without_refused(
        self, batch: list[Item], refusal: KeyRefused, *, check_keys: bool
    ) -> bool:
        """After a write refused keys: answer their commands 401 and run the rest of the
        batch again as one batch, or, when the append named no key of it, every command
        alone (never the same batch again: it would be refused again). True: answered."""
        self._key_refused += 1
        rest = without_refused(batch, refusal)
        if rest is None:
            self._run_each_alone(batch)
            return True
        return not rest or self._try_batch(rest, check_keys=check_keys)

    def _run_each_alone(self, batch: list[Item]) -> None:
        for item in batch:
            if item.future.done():
                continue
            try:
                item.future.set_result(self._run_alone(item))
            except DomainError as exc:
                item.future.set_exception(exc)
            except Exception as exc:  # one command's bug must not fail the others
                log.exception("%s failed", type(item.command).__name__)
                item.future.set_exception(exc)

    def _run_alone(self, item: Item) -> Outcome:
        """Run one command on fresh aggregates and write it. Its first attempts are
        optimistic (a conflict backs off with jitter and tries again); the last holds the
        event table's write lock from the load to the commit, so it cannot lose a race:
        a command on an aggregate other processes keep writing (one customer's credits
        consumed through several server workers) is decided late, never refused with
        ``concurrent_update``. The lock is held for one command, only after the others
        failed, and bounded (``SERIALIZED_LOCK_WAIT_MS`` to get it,
        ``SERIALIZED_HOLD_MS`` from the lock to the append, ``domain/limits/``): past
        either it answers ``concurrent_update``, so other tenants' writers wait at most
        about that long. ``stats()`` counts these attempts."""
        for attempt in range(self.max_retries - 1):
            try:
                return self._attempt(item, serialized=False)
            except KeyRefused:
                self._key_refused += 1
                raise _refused(item) from None
            except IntegrityError:
                # Someone else wrote one of these aggregates first; back off with jitter so
                # that competing writers do not collide again in lock step.
                time.sleep(min(0.2, 0.005 * 2**attempt) * random.random())  # noqa: S311
        self._serialized += 1
        try:
            return self._attempt(item, serialized=True)
        except KeyRefused:
            self._key_refused += 1
            raise _refused(item) from None
        except IntegrityError:  # the lock's bounds, or a writer that cannot serialize
            self._serialized_refused += 1
            raise ConcurrentUpdate(
                f"gave up after {self.max_retries} attempts: the same records kept changing",
                attempts=self.max_retries,
            ) from None

    def _attempt(self, item: Item, *, serialized: bool) -> Outcome:
        uow = UnitOfWork(self.app, cache=None, usage=self.usage)
        with self._writer.serialized() if serialized else nullcontext():
            outcome = self._run_one(uow, item)
            sealed = uow.seal()
            positions: list[int] = []
            if sealed.events:
                keys = [item.context.key_check] if item.context.key_check else []
                positions = self._writer.write(sealed.events, sealed.reads, keys)
        self._write_snapshots(sealed.snapshots)  # after the commit, as _save's
        uow.keep_in(self.cache)
        outcome.position = self._position(positions)
        outcome.key_checked = bool(positions)
        return outcome

    def _run_one(self, uow: UnitOfWork, item: Item) -> Outcome:
        command, ctx = item.command, item.context
        if ctx.now is None:
            ctx = Context(ctx.project_id, ctx.actor, ctx.idempotency_key, self.clock.now())
        digest = ""
        record_id = item.record_id
        if record_id is not None:
            digest = request_hash(type(command).__name__, command.model_dump(mode="json"))
            record = uow.find(IdempotencyRecord, record_id)
            if record is not None:
                record.check_same_request(digest)
                return Outcome(Happened(record.happened), record.response, replayed=True)
        token = current_actor.set(ctx.actor)
        try:
            result = self.handlers[type(command)](uow, command, ctx)
            if record_id is not None and ctx.idempotency_key is not None:
                _keep_answer(uow, record_id, ctx.project_id, ctx.idempotency_key, digest, result)
        finally:
            current_actor.reset(token)
        return Outcome(result.happened, result.body)

    def _absent_idempotency_records(self, batch: list[Item], *, check: bool) -> set[int]:
        """The batch's idempotency record ids that are not in the store, as the unit of
        work keys them (``UUID.int``): one query for the whole batch when ``check``, else
        all of them (the optimistic assumption)."""
        ids = {i.record_id for i in batch if i.record_id is not None}
        if ids and check:
            ids -= self._writer.existing(ids)
        return {i.int for i in ids}

    def _save(self, uow: UnitOfWork, keys: list[KeyCheck]) -> list[int]:
        """Record the unit of work's events in one transaction, confirming ``keys``
        (``KeyCheck``); return their positions."""
        sealed = uow.seal()
        positions = self._writer.write(sealed.events, sealed.reads, keys) if sealed.events else []
        self._write_snapshots(sealed.snapshots)
        return positions

    def _position(self, positions: list[int]) -> int | None:
        if positions:
            return max(positions)
        head: int | None = self.app.recorder.max_notification_id()
        return head

    def _answer(self, done: list[Item], positions: list[int]) -> None:
        position = self._position(positions)
        for item in done:
            assert item.outcome is not None
            item.outcome.position = position
            item.outcome.key_checked = bool(positions)  # the write confirmed their keys
            item.future.set_result(item.outcome)

    def _write_snapshots(self, snapshots: list[StoredEvent]) -> None:
        if snapshots and self.app.snapshots is not None:
            try:
                self.app.snapshots.recorder.insert_events(snapshots)
            except Exception:  # the events are committed; a snapshot only speeds up loads
                log.exception("writing %d snapshot(s) failed", len(snapshots))


def _refused(item: Item) -> Unauthenticated:
    """The answer to a command whose key its write refused (``KeyRefused``): the 401 a
    fresh lookup of the key would now answer (``api.auth``'s words)."""
    actor = item.context.actor
    log.info("a write through key %s was refused: the key no longer holds", actor)
    return Unauthenticated(KEY_REFUSAL)


def without_refused(batch: list[Item], refusal: KeyRefused) -> list[Item] | None:
    """Answer 401 the unanswered commands of ``batch`` through a key the append refused
    and return the others, or None when it named none of them (nothing answered)."""
    refused = [
        item
        for item in batch
        if not item.future.done()
        and item.context.key_check is not None
        and item.context.key_check.key_id in refusal.key_ids
    ]
    if not refused:
        return None
    for item in refused:
        item.future.set_exception(_refused(item))
    return [item for item in batch if not item.future.done()]


def _keep_answer(
    uow: UnitOfWork, record_id: UUID, project_id: UUID, key: str, digest: str, result: Result
) -> None:
    """Record the command's answer under its key. Only the record's event is made: the
    record itself is built only if a later command reuses the key (from the unit of
    work, or from the cache the event goes into with the batch's aggregates)."""
    values: dict[str, Any] = {
        "project_id": project_id,
        "key": key,
        "request_hash": digest,
        "happened": result.happened.value,
        "response": result.body,
    }
    event = IdempotencyRecord.recorded_event(record_id, **values)
    if event is not None:
        uow.add_created_event(IdempotencyRecord, event)
    else:
        uow.add(IdempotencyRecord.record(record_id, **values))
