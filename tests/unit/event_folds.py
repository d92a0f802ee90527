"""Events an aggregate's fold changed: an event must say after it is applied what it said
before, however often it is applied, because the projection worker applies one decoded
batch again after a failed attempt (its retry, the runner's bisection, the re-applied
batches of catch-up and replay) and the invoices read model folds the domain's own
``@event`` bodies over those decoded events."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from eventsourcing.application import Application


def changed_by_folding(app: Application) -> list[str]:
    """Each event of ``app``'s log (decoded afresh, folded per aggregate in log order)
    whose stored state differs after its aggregate was folded from what it was before,
    named by topic and version; none when every fold leaves its events alone."""
    per_aggregate: dict[Any, list[Any]] = defaultdict(list)
    for n in app.recorder.select_notifications(start=1, limit=1_000_000):
        per_aggregate[n.originator_id].append(app.mapper.to_domain_event(n))
    changed = []
    for events in per_aggregate.values():
        before = [app.mapper.to_stored_event(e).state for e in events]
        aggregate = None
        for event in events:
            aggregate = event.mutate(aggregate)
        for event, state in zip(events, before, strict=True):
            if app.mapper.to_stored_event(event).state != state:
                changed.append(f"{type(event).__qualname__} v{event.originator_version}")
    return changed
