"""Customers: the ``customers`` read model and its queries.

One row per customer (``projections.aggregates``: the aggregate's state, its summary and
typed columns ``external_id``, ``email`` and ``test_clock_id``).

Queries (every one filters by project; another project's customer answers None):

- ``get_customer(pool, schema, project_id, customer_id) -> dict | None``
- ``get_customer_by_external_id(pool, schema, project_id, external_id) -> dict | None``
- ``list_customers(pool, schema, project_id, *, limit, starting_after, email=None)
  -> (list[dict], has_more)`` in registration order (``email``: exact match).

A customer dict has the keys of ``commands.customers.customer_summary`` (``id``,
``external_id``, ``email``, ``name``, ``currency``, ``metadata``, ``provider_refs``,
``test_clock_id``) plus ``created_at`` and ``updated_at`` (ISO 8601 strings).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from domain.customers import Customer
from projections import events as ev
from projections.aggregates import AggregateModel, Kind, get_resource, list_resources

TABLE = "customers"
COLUMNS = (("external_id", "text"), ("email", "text"), ("test_clock_id", "uuid"))


def customer_summary(customer: Customer) -> dict[str, Any]:
    return customer.summary()


class Customers(AggregateModel):
    name = "customers"
    kinds = (
        Kind(
            aggregate=Customer,
            table=TABLE,
            events=frozenset(
                {ev.CustomerRegistered, ev.CustomerUpdated, ev.CustomerProviderLinked}
            ),
            columns=COLUMNS,
            values=lambda c, _: (c.external_id, c.email, c.test_clock_id),
            summary=customer_summary,
        ),
    )


def get_customer(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, customer_id: UUID
) -> dict[str, Any] | None:
    return get_resource(pool, schema, TABLE, project_id, "t.id = %s", [customer_id])


def get_customer_by_external_id(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, external_id: str
) -> dict[str, Any] | None:
    return get_resource(pool, schema, TABLE, project_id, "t.external_id = %s", [external_id])


def list_customers(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    *,
    limit: int,
    starting_after: UUID | str | None,
    email: str | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    filters = [("email", email)]
    return list_resources(
        pool, schema, TABLE, project_id, filters, limit=limit, starting_after=starting_after
    )
