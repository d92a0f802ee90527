"""Read models that keep each aggregate's state, so they fold events with the domain itself.

Customers, products, prices, subscriptions and test clocks are projected by the domain's
own code rather than by SQL that re-implements it: each row holds the aggregate's state
(``state``, the aggregate's attributes encoded with the event store's JSON transcodings),
and a batch rebuilds every aggregate it touches from that state (the library's
``Snapshot.mutate``), applies the batch's events to it with the events' own ``mutate``
(the same ``@event`` bodies the write side runs), and writes the result back. So a
subscription's current period and ``next_due_at`` come from ``domain.periods`` exactly
as the aggregate computes them, calendar months and time zone offsets included.

Each row also holds ``summary`` (what the write side answers for the aggregate, the dict
GET returns) and a few typed columns that queries filter and sort on (``Kind.columns``).

Stored states are snapshots, and change like the event store's own: when an aggregate
class changes the attributes it keeps, give it a ``class_version`` and upcasters
(``Snapshot.mutate`` applies them here too), or rebuild the read model from the log.

A batch costs one ``SELECT`` of the states of the aggregates it changes that existed
before it, one ``COPY`` of the aggregates it created, and one ``UPDATE ... FROM
unnest(...)`` of the others, whatever the number of events.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Snapshot
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex
from eventsourcing.utils import get_topic
from psycopg import Cursor, sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from projections.base import ReadModel, Tracked, copy_rows, rows_of
from projections.paging import check_limit, fetch_one, fetch_page
from projections.schema import table

# The attributes the library keeps for itself; ``Snapshot.mutate`` restores them.
_PRIVATE = ("_id", "_version", "_pending_events")


def _transcoder() -> JSONTranscoder:
    # The transcodings the event store registers (``Application.register_transcodings``)
    # for the values aggregates of these kinds hold: UUIDs, datetimes, decimals.
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DecimalAsStr())
    transcoder.register(DatetimeAsISO())
    return transcoder


TRANSCODER = _transcoder()


def _raw(text: str | bytes) -> str | bytes:
    return text


def encode_state(aggregate: Any) -> Jsonb:
    """The aggregate's attributes as JSON, the way ``Snapshot.take`` collects them
    (with the class version, so that a later class can upcast them)."""
    state = {k: v for k, v in vars(aggregate).items() if k not in _PRIVATE}
    class_version = getattr(type(aggregate), "class_version", 1)
    if class_version > 1:
        state["class_version"] = class_version
    return Jsonb(TRANSCODER.encode(state), dumps=_raw)


def decode_state(cls: type, aggregate_id: UUID, version: int, text: str) -> Any:
    """The aggregate rebuilt from a stored state (``Snapshot.mutate``, no I/O)."""
    snapshot = Snapshot(
        originator_id=aggregate_id,
        originator_version=version,
        timestamp=datetime.min,
        topic=get_topic(cls),
        state=TRANSCODER.decode(text.encode()),
    )
    return snapshot.mutate(None)


@dataclass(frozen=True)
class Kind:
    """One aggregate class projected to one table."""

    aggregate: type
    table: str
    events: frozenset[type]
    columns: tuple[tuple[str, str], ...]  # own typed columns: (name, sql type)
    # Their values, from the aggregate and its summary (computed once per row).
    values: Callable[[Any, dict[str, Any]], tuple[Any, ...]]
    summary: Callable[[Any], dict[str, Any]]


class AggregateModel(ReadModel):
    """A read model over one or more ``Kind``s; subclasses set ``name`` and ``kinds``."""

    kinds: tuple[Kind, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.tables = tuple(k.table for k in cls.kinds)
        cls.handles = frozenset(e for k in cls.kinds for e in k.events)

    def apply(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        for kind in self.kinds:
            touched: dict[UUID, list[Tracked]] = {}
            for item in events:
                if type(item[0]) in kind.events:
                    touched.setdefault(item[0].originator_id, []).append(item)
            if touched:
                self._apply_kind(cur, kind, touched)

    def _apply_kind(self, cur: Cursor[Any], kind: Kind, touched: dict[UUID, list[Tracked]]) -> None:
        # An aggregate whose first event here is not its first event ever was projected
        # by an earlier batch: start from its stored state.
        known = [i for i, evs in touched.items() if evs[0][0].originator_version > 1]
        aggregates: dict[UUID, Any] = self._load(cur, kind, known) if known else {}
        new_rows: list[tuple[Any, ...]] = []
        changed_rows: list[tuple[Any, ...]] = []
        for aggregate_id, its_events in touched.items():
            aggregate = aggregates.get(aggregate_id)
            if aggregate is None and aggregate_id in known:
                raise LookupError(f"{kind.table}: {aggregate_id} is not projected")
            for event, _ in its_events:
                aggregate = event.mutate(aggregate)
            if aggregate_id in aggregates:
                changed_rows.append(_row(kind, aggregate, 0))
            else:
                new_rows.append(_row(kind, aggregate, its_events[0][1]))
        names = ["id", "project_id", *(n for n, _ in kind.columns), *_TAIL_NAMES]
        types = ["uuid", "uuid", *(t for _, t in kind.columns), *_TAIL_TYPES]
        copy_rows(cur, self.t(kind.table), names, types, new_rows)
        if changed_rows:
            self._update(cur, kind, names, types, changed_rows)

    def _load(self, cur: Cursor[Any], kind: Kind, ids: list[UUID]) -> dict[UUID, Any]:
        cur.execute(
            sql.SQL("SELECT id, version, state::text FROM {} WHERE id = ANY(%s)").format(
                self.t(kind.table)
            ),
            (ids,),
        )
        return {
            i: decode_state(kind.aggregate, i, version, text) for i, version, text in rows_of(cur)
        }

    def _update(
        self,
        cur: Cursor[Any],
        kind: Kind,
        names: list[str],
        types: list[str],
        rows: list[tuple[Any, ...]],
    ) -> None:
        """One ``UPDATE ... FROM unnest(...)`` of every changed row (all columns but the
        id, project, creation time and position, which never change). Parameters go in
        binary (``%b``): psycopg's text format escapes every element of a jsonb array with a
        regular expression, which took half of a renewal batch's time."""
        kept = {"id", "project_id", "created_at", "position"}
        at = [i for i, name in enumerate(names) if name not in kept or name == "id"]
        arrays = sql.SQL(", ").join(sql.SQL("%b::{}[]").format(sql.SQL(types[i])) for i in at)
        template = sql.SQL("UPDATE {} AS t SET {} FROM unnest({}) AS u({}) WHERE t.id = u.id")
        statement = template.format(
            self.t(kind.table),
            sql.SQL(", ").join(
                sql.SQL("{0} = u.{0}").format(sql.Identifier(names[i])) for i in at if i != 0
            ),
            arrays,
            sql.SQL(", ").join(sql.Identifier(names[i]) for i in at),
        )
        cur.execute(statement, [[row[i] for row in rows] for i in at])


_TAIL_NAMES = ("summary", "state", "created_at", "updated_at", "version", "position")
_TAIL_TYPES = ("jsonb", "jsonb", "timestamptz", "timestamptz", "int4", "int8")


def _row(kind: Kind, aggregate: Any, position: int) -> tuple[Any, ...]:
    """A table row for an aggregate (``position`` is ignored when the row is updated)."""
    summary = kind.summary(aggregate)
    return (
        aggregate.id,
        aggregate.project_id,
        *kind.values(aggregate, summary),
        Jsonb(summary),
        encode_state(aggregate),
        aggregate.created_on,
        aggregate.modified_on,
        aggregate.version,
        position,
    )


# -- queries -----------------------------------------------------------------------------


def as_resource(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the API shows it: the write side's summary plus created_at/updated_at."""
    return {
        **row["summary"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


def get_resource(
    pool: ConnectionPool[Any],
    schema: str,
    name: str,
    project_id: UUID,
    where: str,
    params: Sequence[Any],
) -> dict[str, Any] | None:
    """The first row of table ``name`` in the project matching ``where`` (SQL over ``t``)."""
    query = sql.SQL(
        "SELECT t.summary, t.created_at, t.updated_at FROM {} t WHERE t.project_id = %s AND "
    ).format(table(schema, name)) + sql.SQL(where)
    row = fetch_one(pool, query + sql.SQL(" LIMIT 1"), [project_id, *params])
    return None if row is None else as_resource(row)


def list_resources(
    pool: ConnectionPool[Any],
    schema: str,
    name: str,
    project_id: UUID,
    filters: Sequence[tuple[str, Any]],
    *,
    limit: int,
    starting_after: UUID | str | None,
    select: sql.Composable | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """A page of table ``name`` in log order. ``filters`` are ``(column, value)`` pairs
    compared for equality, a ``None`` value meaning no filter on that column;
    ``starting_after`` is the id of the previous page's last row (unknown or another
    project's id: an empty page).

    ``select`` replaces the default ``SELECT t.summary, t.created_at, t.updated_at FROM
    <name> t WHERE t.project_id = %s`` (for a join); it must keep the alias ``t`` and that
    one parameter."""
    check_limit(limit)
    t = table(schema, name)
    default = sql.SQL(
        "SELECT t.summary, t.created_at, t.updated_at FROM {} t WHERE t.project_id = %s"
    ).format(t)
    query = default if select is None else select
    params: list[Any] = [project_id]
    for column, value in filters:
        if value is not None:
            query += sql.SQL(" AND t.{} = %s").format(sql.Identifier(column))
            params.append(value)
    if starting_after is not None:
        try:
            after = UUID(str(starting_after))
        except ValueError:
            return [], False
        query += sql.SQL(
            " AND (t.position, t.id) > "
            "(SELECT position, id FROM {} WHERE project_id = %s AND id = %s)"
        ).format(t)
        params += [project_id, after]
    query += sql.SQL(" ORDER BY t.position, t.id LIMIT %s")
    rows, has_more = fetch_page(pool, query, params, limit)
    return [as_resource(r) for r in rows], has_more


def load_aggregates(
    cur: Cursor[Any],
    schema: str,
    name: str,
    cls: type,
    project_id: UUID,
    where: str,
    params: Sequence[Any],
) -> list[Any]:
    """The aggregates of table ``name`` (of class ``cls``) in the project matching
    ``where`` (SQL over ``t``), rebuilt from their stored states: for a query that needs
    the domain's own rules over what the read model holds, not just its summary."""
    query = sql.SQL(
        "SELECT t.id, t.version, t.state::text FROM {} t WHERE t.project_id = %s AND "
    ).format(table(schema, name)) + sql.SQL(where)
    cur.execute(query, [project_id, *params])
    return [decode_state(cls, i, version, text) for i, version, text in rows_of(cur)]
