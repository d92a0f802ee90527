"""Events an aggregate's fold changed: an event must say after it is applied what it said
before, however often it is applied, because the projection worker applies one decoded
batch again after a failed attempt (its retry, the runner's bisection, the re-applied
batches of catch-up and replay) and the read models fold the domain's own ``@event``
bodies over those decoded events (the invoices, and every ``projections.aggregates``
kind)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Mapper, StoredEvent


def changed_by_folding(app: Application[Any]) -> list[str]:
    """Each event of ``app``'s log whose stored state differs after its aggregate was
    folded (``changed_by_folding_stored``)."""
    notifications = app.recorder.select_notifications(start=1, limit=1_000_000)
    return changed_by_folding_stored(app.mapper, notifications)


def changed_by_folding_stored(mapper: Mapper[Any], stored: Iterable[StoredEvent]) -> list[str]:
    """Each of ``stored`` (decoded afresh, folded per aggregate in their order) whose
    state encodes differently after its aggregate was folded than before, named by class
    and version; none when every fold leaves its events alone."""
    per_aggregate: dict[Any, list[Any]] = defaultdict(list)
    for s in stored:
        per_aggregate[s.originator_id].append(mapper.to_domain_event(s))
    changed = []
    for events in per_aggregate.values():
        before = [mapper.to_stored_event(e).state for e in events]
        aggregate = None
        for event in events:
            aggregate = event.mutate(aggregate)
        for event, state in zip(events, before, strict=True):
            if mapper.to_stored_event(event).state != state:
                changed.append(f"{type(event).__qualname__} v{event.originator_version}")
    return changed
