"""The unit of work one batch of commands shares: loaded aggregates and new ones.

The command bus keeps aggregates between batches in ``cache`` (one writer thread owns
it), so a hot account is not re-read from the store for every deposit. A cached copy may
be stale if another process wrote the same aggregate; the save then conflicts on the
aggregate's version and the bus re-runs the commands on fresh copies.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from domain.errors import NotFound

A = TypeVar("A", bound=Aggregate)


class AggregateCache:
    """A bounded LRU of aggregates, touched only by the bus's writer thread."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[UUID, Aggregate] = OrderedDict()

    def get(self, aggregate_id: UUID) -> Aggregate | None:
        item = self._items.get(aggregate_id)
        if item is not None:
            self._items.move_to_end(aggregate_id)
        return item

    def put(self, aggregate: Aggregate) -> None:
        if self.maxsize <= 0:
            return
        self._items[aggregate.id] = aggregate
        self._items.move_to_end(aggregate.id)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    def evict(self, aggregate_ids: Any) -> None:
        for aggregate_id in aggregate_ids:
            self._items.pop(aggregate_id, None)

    def clear(self) -> None:
        self._items.clear()


class UnitOfWork:
    def __init__(self, app: Application[UUID], cache: AggregateCache | None = None) -> None:
        self.app = app
        self.cache = cache
        self.touched: dict[UUID, Aggregate] = {}
        # Ids known not to exist in the store (checked in bulk before the batch ran).
        self.known_absent: set[UUID] = set()

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        aggregate = self.touched.get(aggregate_id)
        if aggregate is None and self.cache is not None:
            aggregate = self.cache.get(aggregate_id)
        if aggregate is None:
            if aggregate_id in self.known_absent:
                return None
            try:
                aggregate = self.app.repository.get(aggregate_id)
            except AggregateNotFoundError:
                return None
        if not isinstance(aggregate, cls):
            return None
        self.touched[aggregate_id] = aggregate
        return aggregate

    def get(self, cls: type[A], aggregate_id: UUID, project_id: UUID) -> A:
        """Load an aggregate of the caller's project. Another project's aggregate is
        reported exactly like a missing one, so ids cannot be probed across tenants."""
        aggregate = self.find(cls, aggregate_id)
        if aggregate is None or getattr(aggregate, "project_id", None) != project_id:
            raise NotFound(f"{cls.__name__.lower()} {aggregate_id} not found", id=str(aggregate_id))
        return aggregate

    def add(self, aggregate: Aggregate) -> None:
        self.touched[aggregate.id] = aggregate
        self.known_absent.discard(aggregate.id)

    def pending_count(self) -> int:
        return sum(len(a._pending_events) for a in self.touched.values())

    def dirty(self) -> list[Aggregate]:
        return [a for a in self.touched.values() if a._pending_events]


class EventWriter(Protocol):
    """Writes a unit of work's events; the bus's writer thread is its only caller."""

    def write(self, stored_events: Sequence[StoredEvent]) -> list[int]:
        """Record the events in one transaction and return their notification ids; raise
        ``eventsourcing.persistence.IntegrityError`` (nothing written) on a conflict."""

    def existing(self, originator_ids: set[UUID]) -> set[UUID]:
        """Which of the ids already have events in the store."""

    def close(self) -> None:
        """Give back whatever the writer holds (a connection)."""


class RecorderEventWriter:
    """Writes through the recorder's own interface: the default, and the one the unit
    tests use with the library's in-memory recorder."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder

    def write(self, stored_events: Sequence[StoredEvent]) -> list[int]:
        ids = self.recorder.insert_events(list(stored_events))
        return [i for i in ids or [] if i is not None]

    def existing(self, originator_ids: set[UUID]) -> set[UUID]:
        return {i for i in originator_ids if self.recorder.select_events(i, limit=1)}

    def close(self) -> None:
        pass
