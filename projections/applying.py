"""Applying one batch of the log to the read models: exactly once, each in a savepoint.

- ``project_batch(cur, schema, models, positions, events, last, caps=None) -> positions``
  applies a batch inside the caller's transaction and returns the new positions. It is
  the one way a batch is applied: by the worker (``projections.runner``) and by replay.
- ``caps`` (read model name -> notification id) holds a read model back: it applies only
  the events up to its cap and its tracking row stops there. The worker caps a read model
  that has stopped on an event it cannot apply, and the read models that read its rows
  (``projections.stalls``).
- Each read model applies its share in its own SAVEPOINT (unless ``contained=False``: the
  fast first try, see ``project_batch``). If one fails, its savepoint is
  rolled back, the failing event is found (``_locate``: its events are tried again as
  ever shorter prefixes, each in a savepoint that is rolled back) and ``ProjectionFailed``
  names the read model and that event's position. The caller's transaction is then
  still usable, but the caller should roll it back and apply the batch again with the
  failing read model capped just before that event, because read models applied earlier
  in the batch may read the failing one's rows (``ReadModel.reads``).
- A lost connection, a deadlock or a cancelled statement (``psycopg.OperationalError``)
  is not the event's fault: it propagates as it is and the whole batch is tried again.
- ``route(models, events)``: each read model's share of a batch, in one pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from operator import attrgetter
from typing import Any

import psycopg
from psycopg import Cursor, sql

from projections import array_literals as literals
from projections.base import ReadModel, Tracked
from projections.pipeline import expect_rows, for_model
from projections.schema import TRACKING_TABLE, table
from projections.statements import compiled

_NAME = attrgetter("name")
ERROR_MAX_CHARS = 300  # an error is stored and shown as one line of at most this many


class TrackingConflict(RuntimeError):
    """Another writer moved a tracking row: this batch was rolled back, not applied."""


class ProjectionFailed(Exception):
    """A read model cannot apply the event at ``position`` (a notification id)."""

    def __init__(self, name: str, position: int, error: BaseException) -> None:
        self.name = name
        self.position = position
        self.error = describe(error)
        super().__init__(
            f"read model {name} cannot apply the event at position {position}: {self.error}"
        )


def describe(error: BaseException) -> str:
    """``"ErrorClass: first line of its message"``, short enough for a log line or a
    probe's answer (Postgres adds DETAIL and CONTEXT lines, which may quote row values)."""
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return text if len(text) <= ERROR_MAX_CHARS else text[: ERROR_MAX_CHARS - 3] + "..."


def project_batch(
    cur: Cursor[Any],
    schema: str,
    models: Sequence[ReadModel],
    positions: dict[str, int],
    events: Sequence[Tracked],
    last: int,
    caps: dict[str, int] | None = None,
    *,
    contained: bool = True,
) -> dict[str, int]:
    """Apply one batch inside the caller's transaction; return the new positions.

    ``last`` is the notification id of the batch's last notification (skipped ones
    count). Tracking rows are advanced first, so the row locks are taken before any
    read-model row is touched and a concurrent replay compare (which holds them FOR
    SHARE) sees either all of a batch or none of it.

    ``contained=False`` applies every read model without its savepoint: two round trips
    fewer per read model, which for the live worker's small batches was a third of the
    statements. A failure then leaves the caller's transaction aborted and raises the
    read model's own error; the caller rolls back and applies the batch again contained,
    which names the read model and the event (``ProjectionFailed``).
    """
    names = list(map(_NAME, models))  # in C: the live worker pays this every batch
    if caps:
        targets = {name: min(last, caps.get(name, last)) for name in names}
    else:
        targets = dict.fromkeys(names, last)
    behind = [m for m in models if positions[m.name] < targets[m.name]]
    if not behind:
        return positions
    _advance(cur, schema, behind, positions, targets)
    for model, its_events in zip(behind, route(behind, events), strict=True):
        own, target = positions[model.name], targets[model.name]
        # The batch may start before this model's position (it was read for a model
        # further behind) or go past its cap: then it gets only the events in between.
        if its_events and (its_events[0][1] <= own or its_events[-1][1] > target):
            its_events = [e for e in its_events if own < e[1] <= target]
        # A read model with nothing in this batch costs no savepoint (every ``apply``
        # is a no-op on an empty batch).
        if its_events and contained:
            _apply_contained(cur, model, its_events)
        elif its_events:
            model.apply(for_model(cur, model.deferrable), its_events)
    moved = dict(positions)
    advanced = list(map(_NAME, behind))
    moved.update(zip(advanced, map(targets.__getitem__, advanced), strict=True))
    return moved


def _advance(
    cur: Cursor[Any],
    schema: str,
    behind: Sequence[ReadModel],
    positions: dict[str, int],
    targets: dict[str, int],
) -> None:
    """Move each tracking row from the position it was read at to its target: a
    compare-and-set, so that a concurrent double apply fails instead of counting twice."""
    tracking = table(schema, TRACKING_TABLE)
    statement = compiled(
        cur,
        ("advance", tracking),
        lambda: sql.SQL(
            "UPDATE {} AS t SET position = u.next "
            "FROM unnest(%s::text[], %s::int8[], %s::int8[]) AS u(name, prev, next) "
            "WHERE t.name = u.name AND t.position = u.prev"
        ).format(tracking),
    )
    names = list(map(_NAME, behind))
    cur.execute(
        statement,
        (
            literals.names(names),
            literals.integers(list(map(positions.__getitem__, names))),
            literals.integers(list(map(targets.__getitem__, names))),
        ),
    )
    expect_rows(cur, len(behind), partial(_moved, schema))


def _moved(schema: str, *_: object) -> TrackingConflict:
    return TrackingConflict(f"tracking rows in {schema} moved under this worker")


def _apply_contained(cur: Cursor[Any], model: ReadModel, events: Sequence[Tracked]) -> None:
    """``model.apply`` in a savepoint; on failure, ``ProjectionFailed`` at the failing event."""
    try:
        with cur.connection.transaction():
            model.apply(cur, events)
    except Exception as exc:
        if _not_the_events_fault(cur, exc):
            raise
        raise ProjectionFailed(model.name, _locate(cur, model, events), exc) from exc


def _not_the_events_fault(cur: Cursor[Any], exc: Exception) -> bool:
    return isinstance(exc, psycopg.OperationalError) or cur.connection.broken


def _locate(cur: Cursor[Any], model: ReadModel, events: Sequence[Tracked]) -> int:
    """The position of the first event ``model`` cannot apply: the shortest failing
    prefix of ``events`` (the whole list failed), found by bisection, so a batch of 2,000
    events costs about eleven tries, each rolled back."""
    good, bad = 0, len(events)  # applying events[:good] works; events[:bad] fails
    while bad - good > 1:
        middle = (good + bad) // 2
        if _fails(cur, model, events[:middle]):
            bad = middle
        else:
            good = middle
    return events[bad - 1][1]


def _fails(cur: Cursor[Any], model: ReadModel, events: Sequence[Tracked]) -> bool:
    try:
        with cur.connection.transaction() as attempt:
            model.apply(cur, events)
            raise psycopg.Rollback(attempt)  # only a try: undo it
    except Exception as exc:
        if _not_the_events_fault(cur, exc):
            raise
        return True
    return False


# A route per sequence of read models' ``handles``: the distinct sets, each event class's
# slots among them, and each model's slot. Built once; the live worker's small batches
# paid about 575 list appends a batch to build it again (every class every model reads).
_Route = tuple[int, dict[type, tuple[int, ...]], tuple[int, ...]]
_ROUTES: dict[tuple[frozenset[type], ...], _Route] = {}
MAX_ROUTES = 64  # one per set of read models behind; stalls make a few more


def route(models: Sequence[ReadModel], events: Sequence[Tracked]) -> list[list[Tracked]]:
    """Each model's events, in one pass over the batch. Models that handle the same
    classes get the same list object, so they can share work done on it."""
    key = tuple(m.handles for m in models)  # a frozenset keeps its hash: cheap to hash
    plan = _ROUTES.get(key)
    if plan is None:
        if len(_ROUTES) >= MAX_ROUTES:
            _ROUTES.clear()
        plan = _ROUTES[key] = _plan(key)
    count, slots_of, model_slots = plan
    lists: list[list[Tracked]] = [[] for _ in range(count)]
    for item in events:
        for slot in slots_of.get(type(item[0]), ()):
            lists[slot].append(item)
    return [lists[slot] for slot in model_slots]


def _plan(handles: tuple[frozenset[type], ...]) -> _Route:
    distinct = list(dict.fromkeys(handles))
    slots: dict[type, list[int]] = {}
    for slot, kinds in enumerate(distinct):
        for kind in kinds:
            slots.setdefault(kind, []).append(slot)
    slots_of = {kind: tuple(found) for kind, found in slots.items()}
    return len(distinct), slots_of, tuple(distinct.index(h) for h in handles)
