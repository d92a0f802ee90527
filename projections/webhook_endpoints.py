"""Webhook endpoints (issue 12): the ``webhook_endpoints`` read model and its queries.

One row per endpoint (``projections.aggregates``: the aggregate's state and summary, with
``status`` typed for the delivery worker's query). The summary never holds a secret; the
state holds the sealed (encrypted) ones, as ``provider_settings`` rows do.

Queries (every one filters by project; another project's endpoint answers None):

- ``get_endpoint(pool, schema, project_id, endpoint_id) -> dict | None``
- ``list_endpoints(pool, schema, project_id, *, limit, starting_after)
  -> (list[dict], has_more)``: deleted ones left out.
- ``enabled_endpoints(pool, schema) -> list[(project_id, endpoint_id)]``: every enabled
  endpoint of every project (the delivery worker's list).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg_pool import ConnectionPool

from domain.webhook_endpoints import DELETED, ENABLED, WebhookEndpoint
from projections.aggregates import AggregateModel, Kind, get_resource, list_resources
from projections.paging import fetch_all
from projections.schema import table

TABLE = "webhook_endpoints"
_endpoint: Any = WebhookEndpoint


def _summary(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return endpoint.summary()


class WebhookEndpoints(AggregateModel):
    name = "webhook_endpoints"
    kinds = (
        Kind(
            aggregate=WebhookEndpoint,
            table=TABLE,
            events=frozenset(
                {
                    _endpoint.Registered,
                    _endpoint.Updated,
                    _endpoint.SecretRotated,
                    _endpoint.Disabled,
                    _endpoint.Enabled,
                    _endpoint.Deleted,
                }
            ),
            columns=(("status", "text"),),
            values=lambda e, _: (e.status,),
            summary=_summary,
        ),
    )


def get_endpoint(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, endpoint_id: UUID
) -> dict[str, Any] | None:
    return get_resource(
        pool, schema, TABLE, project_id, "t.id = %s AND t.status <> %s", [endpoint_id, DELETED]
    )


def list_endpoints(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    *,
    limit: int,
    starting_after: UUID | str | None,
) -> tuple[list[dict[str, Any]], bool]:
    select = sql.SQL(
        "SELECT t.summary, t.created_at, t.updated_at FROM {} t "
        "WHERE t.project_id = %s AND t.status <> 'deleted'"
    ).format(table(schema, TABLE))
    return list_resources(
        pool, schema, TABLE, project_id, [], limit=limit, starting_after=starting_after,
        select=select,
    )  # fmt: skip


def enabled_endpoints(pool: ConnectionPool[Any], schema: str) -> list[tuple[UUID, UUID]]:
    query = sql.SQL("SELECT project_id, id FROM {} WHERE status = %s ORDER BY position").format(
        table(schema, TABLE)
    )
    return [(r["project_id"], r["id"]) for r in fetch_all(pool, query, [ENABLED])]
