"""The unit of work one batch of commands shares: loaded aggregates and new ones.

The command bus keeps aggregates between batches in ``cache`` (one writer thread owns
it), so a hot account is not re-read from the store for every deposit. A cached copy may
be stale if another process wrote the same aggregate; the save then conflicts on the
aggregate's version and the bus re-runs the commands on fresh copies.

The unit of work's and the cache's dictionaries and sets are keyed by an id's integer
(``UUID.int``), not by the ``UUID``: ``UUID.__hash__`` is a Python function, and a keyed
deposit looked ids up about thirty times (a frame each), where an integer hashes in C.
Their methods still take and give ``UUID``s.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, Snapshot
from eventsourcing.persistence import IntegrityError, Mapper, StoredEvent
from eventsourcing.utils import get_topic

from commands.bus.key_check import KeyCheck
from commands.bus.usage_source import UsageSource
from domain.errors import NotFound

A = TypeVar("A", bound=Aggregate)

log = logging.getLogger("tally.bus")


class AggregateCache:
    """A bounded LRU of aggregates, touched only by the bus's writer thread.

    A new aggregate that was stored by its created event alone (an idempotency record,
    ``UnitOfWork.add_created_event``) is kept as that event and built only when asked
    for: a retry under the same key in a later batch must find its record here and
    replay it, never run its handler again on aggregates that are already changed."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[int, Any] = OrderedDict()  # by UUID.int (module docstring)

    def get(self, aggregate_id: UUID) -> Aggregate | None:
        key = aggregate_id.int
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        if not isinstance(item, Aggregate):  # a created event: build it, as a load would
            item = self._items[key] = item.mutate(None)
        aggregate: Aggregate = item
        return aggregate

    def put(self, aggregate: Aggregate) -> None:
        self.put_all({aggregate.id.int: aggregate})

    def put_all(self, aggregates: dict[int, Any]) -> None:
        """Keep each aggregate (or created event, see the class's docstring) under its
        id's integer: a unit of work's, in one call."""
        if self.maxsize <= 0:
            return
        items = self._items
        items.update(aggregates)
        move_to_end = items.move_to_end
        for key in aggregates:
            move_to_end(key)
        while len(items) > self.maxsize:
            items.popitem(last=False)

    def put_created(self, event: Any) -> None:
        """Keep a new aggregate by its created event (see the class's docstring)."""
        self.put_all({event.originator_id.int: event})

    def ids(self) -> list[UUID]:
        """The ids of what the cache holds, least recently used first."""
        return [UUID(int=key) for key in self._items]

    def evict(self, aggregate_ids: Any) -> None:
        for aggregate_id in aggregate_ids:
            self._items.pop(aggregate_id.int, None)

    def clear(self) -> None:
        self._items.clear()


class UnitOfWork:
    def __init__(
        self,
        app: Application[UUID],
        cache: AggregateCache | None = None,
        usage: UsageSource | None = None,
    ) -> None:
        self.app = app
        self.cache = cache
        # Where a handler reads usage totals (None: no usage store, nothing is rated).
        self.usage = usage
        # Every key below is an id's UUID.int (the module's docstring says why).
        self.touched: dict[int, Aggregate] = {}
        # Ids known not to exist in the store (checked in bulk before the batch ran).
        self.known_absent: set[int] = set()
        # How many events each aggregate the current command has reached had pending
        # when it first reached it; see begin_command() and command_recorded().
        self._marks: dict[int, int] = {}
        # Events already taken out of the aggregates and encoded (encode_command()), the
        # aggregates they came from, and those due a snapshot.
        self._stored: list[StoredEvent] = []
        self._written: set[int] = set()
        # New aggregates recorded by their created event alone (add_created_event), until
        # a command asks for one; and how many events were encoded when the current
        # command began.
        self._unbuilt: dict[int, Any] = {}
        self._stored_before = 0
        self._due: set[int] = set()
        self._intervals = app.snapshotting_intervals if app.snapshots is not None else None
        self._to_stored = stored_event_maker(app.mapper)

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        key = aggregate_id.int
        aggregate = self.touched.get(key)
        if aggregate is None and self._unbuilt:
            aggregate = self._build(key)
        if aggregate is None and self.cache is not None:
            aggregate = self.cache.get(aggregate_id)
        if aggregate is None:
            if key in self.known_absent:
                return None
            try:
                aggregate = self.app.repository.get(aggregate_id)
            except AggregateNotFoundError:
                return None
        if not isinstance(aggregate, cls):
            return None
        self.touched[key] = aggregate
        self._marks.setdefault(key, len(aggregate._pending_events))
        return aggregate

    def reached(self, aggregate_id: UUID) -> Aggregate | None:
        """The aggregate the unit of work has built for this id, if any (not loaded)."""
        return self.touched.get(aggregate_id.int)

    def recorded(self, aggregate_id: UUID, topic: str) -> list[Any]:
        """The aggregate's stored events of ``topic``, oldest first, decoded. It reads
        the whole history: for a rare question about it (an error's answer), never on a
        command's usual path."""
        stored = self.app.recorder.select_events(aggregate_id)
        return [self.app.mapper.to_domain_event(e) for e in stored if e.topic == topic]

    def get(self, cls: type[A], aggregate_id: UUID, project_id: UUID) -> A:
        """Load an aggregate of the caller's project. Another project's aggregate is
        reported exactly like a missing one, so ids cannot be probed across tenants."""
        aggregate = self.find(cls, aggregate_id)
        if aggregate is None or getattr(aggregate, "project_id", None) != project_id:
            raise NotFound(f"{cls.__name__.lower()} {aggregate_id} not found", id=str(aggregate_id))
        return aggregate

    def add(self, aggregate: Aggregate) -> None:
        key = aggregate.id.int
        self.touched[key] = aggregate
        self.known_absent.discard(key)
        self._marks.setdefault(key, 0)

    def add_created_event(self, aggregate_class: type[Aggregate], event: Any) -> None:
        """Record a new aggregate by its created event alone, without building it: for
        one that nearly always only has to be stored (the idempotency record of a keyed
        command). Its event is encoded now, after what the command recorded before it,
        so the batch holds the events in the order ``add(aggregate)`` would give them.
        ``find`` builds the aggregate from the event, as a load from the store would, if
        a later command of the batch asks for it; ``keep_in`` hands the event to the cache,
        which does the same for a later batch. An aggregate class with a snapshotting
        interval is built and added as any other, so that its snapshot is taken."""
        if self._intervals and self._intervals.get(aggregate_class):
            aggregate = event.mutate(None)
            aggregate._pending_events.append(event)
            self.add(aggregate)
            return
        self.encode_command()
        key = event.originator_id.int
        self._unbuilt[key] = event
        self.known_absent.discard(key)
        self._stored.append(self._to_stored(event))
        self._written.add(key)

    def _build(self, key: int) -> Aggregate | None:
        """The aggregate of an event recorded by ``add_created_event``, made from it as
        the repository makes one from its stored events (nothing left pending)."""
        event = self._unbuilt.pop(key, None)
        if event is None:
            return None
        aggregate: Aggregate = event.mutate(None)
        self.touched[key] = aggregate
        return aggregate

    def ids(self) -> list[UUID]:
        """Every aggregate the unit of work reached or made, built or not: what the cache
        must drop if its events are not written (a handler changed them in place)."""
        return [
            *(a.id for a in self.touched.values()),
            *(e.originator_id for e in self._unbuilt.values()),
        ]

    def keep_in(self, cache: AggregateCache) -> None:
        """Put what the unit of work reached or made into ``cache``, for later batches:
        the aggregates, and the new ones not built by their created events."""
        cache.put_all(self.touched)
        cache.put_all(self._unbuilt)

    def begin_command(self) -> None:
        """Start watching what the next command records."""
        self._marks.clear()
        self._stored_before = len(self._stored)

    def command_recorded(self) -> bool:
        """Whether the command since ``begin_command()`` recorded any event. A handler
        reaches aggregates only through this unit of work, so only the aggregates it
        reached are looked at, not the whole batch (which may be hundreds)."""
        if len(self._stored) != self._stored_before:
            return True  # some were encoded already (add_created_event)
        touched = self.touched
        return any(len(touched[i]._pending_events) != n for i, n in self._marks.items())

    def created(self, cls: type[A]) -> list[A]:
        """The ``cls`` aggregates the current command created: every event of theirs is
        still pending (the bus takes a command's events out after it, so an aggregate an
        earlier command of the batch created is not counted again)."""
        touched = self.touched
        return [
            a
            for i in self._marks
            if isinstance(a := touched[i], cls) and a.version == len(a._pending_events)
        ]

    def pending_count(self) -> int:
        return sum(len(a._pending_events) for a in self.touched.values())

    def dirty(self) -> list[Aggregate]:
        return [a for a in self.touched.values() if a._pending_events]

    def encode_command(self) -> None:
        """Take out and encode the events the current command recorded.

        The bus calls this after each command, while the previous batch commits or the
        next callers are on their way, so that sealing the batch has almost nothing left
        to do. Encoding happens in the bus's writer thread, before later commands change
        the same aggregates again."""
        touched = self.touched
        for key in self._marks:
            aggregate = touched[key]
            if aggregate._pending_events:
                self._take(key, aggregate)

    def seal(self) -> Sealed:
        """Everything the unit of work records, encoded: its events, a snapshot of each
        aggregate whose new events reached its snapshotting interval, and the versions
        that must not exist when they commit (see ``Sealed.reads``).

        Snapshots come from the aggregates in hand, which are exactly the recorded state
        at their version once the events commit, so nothing is read back from the store
        (the library's ``save()`` re-reads the aggregate's history to take one)."""
        for key, aggregate in self.touched.items():
            if aggregate._pending_events:
                self._take(key, aggregate)
        # What the commands read but did not change must still be as they read it when
        # the events commit: the next version of each must not exist yet.
        written = self._written
        reads = [(a.id, a.version + 1) for k, a in self.touched.items() if k not in written]
        return Sealed(self._stored, self._snapshots(), reads)

    def _take(self, key: int, aggregate: Aggregate) -> None:
        # What collect_events() does, in two C calls.
        pending = aggregate._pending_events
        events = list(pending)
        pending.clear()
        self._stored.extend(map(self._to_stored, events))
        self._written.add(key)
        interval = self._intervals.get(type(aggregate)) if self._intervals else None
        if interval and any(e.originator_version % interval == 0 for e in events):
            self._due.add(key)

    def _snapshots(self) -> list[StoredEvent]:
        snapshots = []
        for key in self._due:
            aggregate = self.touched[key]
            snapshot_class = getattr(type(aggregate), "Snapshot", None) or Snapshot
            try:
                snapshots.append(self.app.mapper.to_stored_event(snapshot_class.take(aggregate)))
            except Exception:  # a snapshot only speeds up loads; never fail the batch
                log.exception("cannot snapshot %s at version %s", aggregate.id, aggregate.version)
        return snapshots


def stored_event_maker(mapper: Mapper[UUID]) -> Callable[[Any], StoredEvent]:
    """``mapper.to_stored_event``, with the event class's topic and version looked up
    once per class rather than once per event. A mapper that compresses or encrypts
    keeps its own method."""
    # A mapper whose method was replaced on the instance (a test's hook) keeps it too.
    if (
        mapper.compressor is not None
        or mapper.cipher is not None
        or "to_stored_event" in vars(mapper)
    ):
        return mapper.to_stored_event
    encode = mapper.transcoder.encode

    def to_stored(event: Any) -> StoredEvent:
        kind = type(event)
        known = _CLASSES.get(kind)
        if known is None:
            known = _CLASSES[kind] = (get_topic(kind), getattr(kind, "class_version", 1))
        topic, class_version = known
        # The library's steps: the event's attributes, less the two that are columns,
        # plus the class version when above 1.
        state = dict(vars(event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        if class_version > 1:
            state["class_version"] = class_version
        # StoredEvent's frozen __init__ sets its four fields one call at a time; the
        # object it makes is this one (same attributes, equal, hashed alike).
        stored: StoredEvent = new_object(StoredEvent)
        set_attribute(
            stored,
            "__dict__",
            {
                "originator_id": originator_id,
                "originator_version": originator_version,
                "topic": topic,
                "state": encode(state),
            },
        )
        return stored

    new_object, set_attribute = object.__new__, object.__setattr__
    return to_stored


_CLASSES: dict[type, tuple[str, int]] = {}


@dataclass
class Sealed:
    """A unit of work's events encoded for the store, and the snapshots that are due."""

    events: list[StoredEvent]
    snapshots: list[StoredEvent]
    # (aggregate id, version) pairs that must not be in the store when the events commit:
    # the aggregates the unit of work read without changing them, one version on.
    reads: list[tuple[UUID, int]]


class EventWriter(Protocol):
    """Writes a unit of work's events; the bus's writer thread is its only caller."""

    def write(
        self,
        stored_events: Sequence[StoredEvent],
        reads: Sequence[tuple[UUID, int]] = (),
        keys: Collection[KeyCheck] = (),
    ) -> list[int]:
        """Record the events in one transaction and return their notification ids; raise
        ``eventsourcing.persistence.IntegrityError`` (nothing written) on a conflict: an
        event already there, or any ``(id, version)`` of ``reads`` already there (an
        aggregate that was read, not changed, has changed since); and ``KeyRefused``
        (nothing written) if a key of ``keys`` no longer holds when they would commit."""

    def existing(self, originator_ids: set[UUID]) -> set[UUID]:
        """Which of the ids already have events in the store."""

    def serialized(self) -> AbstractContextManager[None]:
        """While entered, no other writer (of any process) can write an event, and a
        ``write`` commits when it is left: what is read inside stays current."""

    def close(self) -> None:
        """Give back whatever the writer holds (a connection)."""


class RecorderEventWriter:
    """Writes through the recorder's own interface: the default, and the one the unit
    tests use with the library's in-memory recorder."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder

    def write(
        self,
        stored_events: Sequence[StoredEvent],
        reads: Sequence[tuple[UUID, int]] = (),
        keys: Collection[KeyCheck] = (),
    ) -> list[int]:
        # Not atomic with the insert, unlike the Postgres writer; the in-memory recorder
        # serves one process's tests. It has no read models, so no keys to confirm: only
        # the API, on Postgres, authenticates from a key cache.
        for aggregate_id, version in reads:
            if self.recorder.select_events(aggregate_id, gt=version - 1, limit=1):
                raise IntegrityError(f"{aggregate_id} changed after it was read")
        ids = self.recorder.insert_events(list(stored_events))
        return [i for i in ids or [] if i is not None]

    def existing(self, originator_ids: set[UUID]) -> set[UUID]:
        return {i for i in originator_ids if self.recorder.select_events(i, limit=1)}

    def serialized(self) -> AbstractContextManager[None]:
        # One process's recorder: the bus's mutex already keeps its writes one at a time.
        return nullcontext()

    def close(self) -> None:
        pass
