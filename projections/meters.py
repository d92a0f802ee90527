"""Meters: the ``meters`` read model and its queries (issue 13).

One row per meter (``projections.aggregates``), with typed columns ``code`` and
``event_name`` (ingestion looks up the meters that count an event by its name).

Queries (every one filters by project; another project's meter answers None):

- ``get_meter(pool, schema, project_id, meter_id) -> dict | None``
- ``list_meters(pool, schema, project_id, *, limit, starting_after) -> (list[dict],
  has_more)`` in definition order.
- ``meters_of(pool, schema, project_id) -> list[dict]``: every meter's summary, not
  paged (a project has few meters), for ingestion and usage queries.

Dicts have the keys of ``commands.meters.meter_summary`` plus ``created_at`` and
``updated_at``.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg_pool import ConnectionPool

from domain.meters import Meter
from projections.aggregates import AggregateModel, Kind, get_resource, list_resources
from projections.paging import fetch_all

TABLE = "meters"
COLUMNS = (("code", "text"), ("event_name", "text"))
_meter: Any = Meter
MeterDefined: Any = _meter.Defined


def meter_summary(meter: Meter) -> dict[str, Any]:
    return meter.summary()


class Meters(AggregateModel):
    name = "meters"
    kinds = (
        Kind(
            aggregate=Meter,
            table=TABLE,
            events=frozenset({MeterDefined}),
            columns=COLUMNS,
            values=lambda m, _: (m.code, m.event_name),
            summary=meter_summary,
        ),
    )


def get_meter(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, meter_id: UUID
) -> dict[str, Any] | None:
    return get_resource(pool, schema, TABLE, project_id, "t.id = %s", [meter_id])


def list_meters(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    *,
    limit: int,
    starting_after: UUID | str | None,
) -> tuple[list[dict[str, Any]], bool]:
    return list_resources(
        pool, schema, TABLE, project_id, [], limit=limit, starting_after=starting_after
    )


# Every meter's summary of a project (``%s``), in order, with ``{s}`` the schema: for a
# caller that reads it on a connection it already holds (usage ingestion's door, the
# usage answers).
METERS = "SELECT summary FROM {s}." + TABLE + " WHERE project_id = %s ORDER BY position, id"


def meters_sql(schema: str) -> sql.Composed:
    return sql.SQL(METERS).format(s=sql.Identifier(schema))


def meters_of(pool: ConnectionPool[Any], schema: str, project_id: UUID) -> list[dict[str, Any]]:
    rows = fetch_all(pool, meters_sql(schema), [project_id])
    return [dict(row["summary"]) for row in rows]
