"""What every read model shares: the tracking recorder, the batch contract, SQL helpers.

Each read model is an ``eventsourcing.projection.Projection`` whose ``view`` is a
``ViewTracking`` (a ``TrackingRecorder`` over the ``projection_tracking`` table of one
schema). The library's vocabulary holds: ``process_event(domain_event, tracking)``
applies one event and records its tracking row in the same transaction.

For speed the runner does not call ``process_event`` per event. It calls
``apply(cur, events)`` with a whole batch of ``(domain_event, notification_id)`` pairs,
inside a transaction that also advances the tracking rows, and every read model turns
the batch into a few set-based statements (``COPY`` for new rows, ``UPDATE ... FROM
unnest(...)`` for changed ones). ``process_event`` is ``apply`` on a batch of one, so
the live worker, replay and the library's own runner all share one projection logic.

Read models run in a fixed order (see ``projections.registry.PROJECTIONS``) because some
look up facts another one wrote earlier in the same transaction (a hold's project comes
from ``accounts``; a journal entry's currency from ``transactions``).
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import chain
from typing import Any

import orjson
from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.projection import Projection
from psycopg import Cursor, postgres, sql
from psycopg.types.json import set_json_dumps
from psycopg_pool import ConnectionPool

from projections.pipeline import DeferredCursor, run_copy
from projections.schema import TRACKING_TABLE, table
from projections.statements import TableName, compiled

_PASSTHROUGH = (
    orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)  # fmt: skip


def json_dumps(value: Any) -> bytes | str:
    """JSON for a ``jsonb`` parameter: orjson's (about five times faster than the
    standard library's, and jsonb stores the same value whatever the spacing), and the
    standard library's for anything orjson would write differently or refuses: a
    datetime, a dataclass or a subclass of a JSON type (the standard library refuses the
    first two, writes the last its own way), an integer past 64 bits. One difference
    is left: a float NaN or infinity, which the standard library writes as a token jsonb
    refuses, orjson writes as null; the domain's limits keep floats out of what read
    models store (amounts are integers, provider payloads have them replaced)."""
    try:
        return orjson.dumps(value, option=_PASSTHROUGH)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value)


# Every ``Jsonb(...)`` a read model writes without a ``dumps`` of its own.
set_json_dumps(json_dumps)

Tracked = tuple[Any, int]
"""A domain event and its notification id (its position in the log)."""


class ViewTracking(TrackingRecorder):
    """The tracking rows of one schema's read models, one row per projection name.

    The library calls the row's key ``application_name``; here it is the projection's
    name (``accounts``, ``journal``, ...), because each read model tracks its own
    position and the runner advances them together.
    """

    def __init__(self, pool: ConnectionPool[Any], schema: str) -> None:
        self.pool = pool
        self.schema = schema
        self.table = table(schema, TRACKING_TABLE)

    def insert_tracking(self, tracking: Tracking) -> None:
        with self.pool.connection() as conn, conn.cursor() as cur:
            self.record(cur, tracking)

    def record(self, cur: Cursor[Any], tracking: Tracking) -> None:
        """Advance one row inside the caller's transaction (never moves it backwards)."""
        cur.execute(
            sql.SQL(
                "INSERT INTO {t} (name, position) VALUES (%s, %s) ON CONFLICT (name) DO "
                "UPDATE SET position = GREATEST({t}.position, EXCLUDED.position)"
            ).format(t=self.table),
            (tracking.application_name, tracking.notification_id),
        )

    def max_tracking_id(self, application_name: str) -> int | None:
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(
                sql.SQL("SELECT position FROM {} WHERE name = %s").format(self.table),
                (application_name,),
            )
            row = cur.fetchone()
        return None if row is None else int(_first(row))


class ReadModel(Projection[ViewTracking]):
    """One read model: a projection that applies batches with set-based SQL."""

    name = ""
    tables: tuple[str, ...] = ()
    # The event classes ``apply`` reads; the runner hands it only these (in log order).
    handles: frozenset[type] = frozenset()
    # The names of the read models whose rows ``apply`` reads. It must never get ahead of
    # them: when one of them stops on an event it cannot apply, this one stops at the
    # same position (``projections.stalls``), rather than read rows that are missing.
    reads: frozenset[str] = frozenset()
    # True for a replay's scratch copy (``make_models(..., rebuilding=True)``): the
    # comparison leaves a table's ``uncompared`` columns out (``projections.tables``),
    # so a read model may write a placeholder there instead of computing the value.
    rebuilding = False
    # True if ``apply`` may get a ``projections.pipeline.DeferredCursor`` (catch-up): its
    # statements run later, so no parameter or COPY row it hands over may change after.
    deferrable = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # The library names a projection after its class unless the class's own body
        # sets ``name`` (``Projection.__init_subclass__``). A read model's name keys its
        # tracking row, its stall and its place in a replay, so a subclass of a read
        # model (a test's, or one that changes how it applies) keeps its parent's name
        # unless it sets one: under the library's rule a subclass of a subclass of
        # ``Transactions`` tracked itself under its class's name, and the
        # ``transactions`` row stayed where it was.
        own, inherited = "name" in cls.__dict__, cls.name
        super().__init_subclass__(**kwargs)
        if not own:
            cls.name = inherited

    def __init__(self, view: ViewTracking) -> None:
        assert self.name, f"{type(self).__qualname__} has no name"
        super().__init__(view)
        self.schema = view.schema

    def t(self, name: str) -> sql.Composed:
        """The schema-qualified name of one of this schema's tables."""
        return table(self.schema, name)

    @abstractmethod
    def apply(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        """Apply a batch of events, in log order, inside the caller's transaction.

        Events of classes not in ``handles`` may be present and must be ignored."""

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Apply one event and record its tracking row, atomically (library protocol)."""
        with self.view.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute(
                sql.SQL("SELECT position FROM {} WHERE name = %s FOR UPDATE").format(
                    self.view.table
                ),
                (self.name,),
            )
            row = cur.fetchone()
            if row is not None and int(_first(row)) >= tracking.notification_id:
                return  # already applied: exactly once
            if type(domain_event) in self.handles:
                self.apply(cur, [(domain_event, tracking.notification_id)])
            self.view.record(cur, Tracking(self.name, tracking.notification_id))


def _first(row: Any) -> Any:
    """The first column of a row, whichever row factory the connection uses."""
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def rows_of(cur: Cursor[Any]) -> list[tuple[Any, ...]]:
    """All rows of the last statement as tuples, whichever row factory is in use."""
    return [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in cur.fetchall()]


def copy_rows(
    cur: Cursor[Any],
    table: sql.Composable,
    columns: Sequence[str],
    types: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> None:
    """Insert rows with binary COPY: the fastest way to add many rows from Python.
    Nothing is sent when there are no rows."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return

    def build() -> sql.Composed:
        return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            table, sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )

    # Composed once per table and columns; a table named otherwise than by ``table()``
    # cannot be a key, and is composed each time.
    statement = (
        compiled(cur, ("copy", table, tuple(columns)), build)
        if type(table) is TableName
        else build()
    )
    kinds = _oids(tuple(types))
    if isinstance(cur, DeferredCursor):  # run later by the pipeline's thread, rows as built now
        cur.copy_rows(statement, kinds, chain((first,), rows))
        return
    run_copy(cur, statement, kinds, chain((first,), rows))


@lru_cache(maxsize=256)
def _oids(types: tuple[str, ...]) -> list[int | str]:
    """A COPY's column types as oids where they are built in (Postgres fixes those: the
    same in every database), so that psycopg does not look each name up in its registry
    on every COPY (about 1,000 bytecodes of a three-deposit drain); any other stays a
    name. The list is shared: ``set_types`` only reads it."""
    return [_oid(name) for name in types]


def _oid(name: str) -> int | str:
    """A built-in type's oid, or the name itself. ``get_oid``, not ``get(name).oid``:
    ``get("int8[]")`` answers the element type's info, whose ``oid`` is int8's (20), not
    the array's (1016)."""
    try:
        return postgres.types.get_oid(name)
    except KeyError:
        return name


def unnest_update(
    cur: Cursor[Any],
    table: sql.Composable,
    assignments: str,
    key_where: str,
    columns: Sequence[tuple[str, str]],
    values: Sequence[Sequence[Any]],
    *,
    literals: Sequence[str] | None = None,
) -> None:
    """One ``UPDATE ... FROM unnest(...)`` for many rows.

    ``columns`` are ``(name, sql type)`` of the ``u`` relation; ``values`` holds one list
    per column; ``assignments`` and ``key_where`` are SQL over ``t`` (the table) and ``u``.
    The arrays go in binary (``%b``): in the text format psycopg escapes every element
    with a regular expression, which made dumping them about four times slower. Or, with
    ``literals`` (one ``projections.array_literals`` string per column, ``values`` then
    only says whether there are rows), as text cast in the SQL: no dumper per element.
    """
    if not values or not values[0]:
        return
    mark = "%b" if literals is None else "%s"

    def build() -> sql.Composed:
        arrays = sql.SQL(", ").join(
            sql.SQL(mark + "::{}[]").format(sql.SQL(kind)) for _, kind in columns
        )
        names = sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns)
        return sql.SQL("UPDATE {} AS t SET {} FROM unnest({}) AS u({}) WHERE {}").format(
            table, sql.SQL(assignments), arrays, names, sql.SQL(key_where)
        )

    key = ("update", table, assignments, key_where, tuple(columns), mark)
    statement = compiled(cur, key, build) if type(table) is TableName else build()
    cur.execute(statement, [list(v) for v in values] if literals is None else list(literals))
