"""Test clocks: the ``test_clocks`` read model and its queries.

One row per test clock (``projections.aggregates``). Queries (both filter by project;
another project's clock answers None):

- ``get_test_clock(pool, schema, project_id, clock_id) -> dict | None``
- ``list_test_clocks(pool, schema, project_id, *, limit, starting_after)
  -> (list[dict], has_more)``

A clock dict has the keys of ``commands.test_clocks.clock_summary`` (``id``, ``name``,
``frozen_time``, ``subscriptions``: how many subscriptions live on it) plus
``created_at`` and ``updated_at`` (ISO 8601 strings).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from domain.test_clocks import TestClock
from projections import events as ev
from projections.aggregates import AggregateModel, Kind, get_resource, list_resources

TABLE = "test_clocks"


def clock_summary(clock: TestClock) -> dict[str, Any]:
    return clock.summary()


class TestClocks(AggregateModel):
    __test__ = False  # not a pytest test class, whatever its name says
    name = "test_clocks"
    kinds = (
        Kind(
            aggregate=TestClock,
            table=TABLE,
            events=frozenset(
                {ev.TestClockCreated, ev.TestClockAdvanced, ev.TestClockSubscriptionAttached}
            ),
            columns=(("name", "text"),),
            values=lambda c, _: (c.name,),
            summary=clock_summary,
        ),
    )


def get_test_clock(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, clock_id: UUID
) -> dict[str, Any] | None:
    return get_resource(pool, schema, TABLE, project_id, "t.id = %s", [clock_id])


def list_test_clocks(
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
