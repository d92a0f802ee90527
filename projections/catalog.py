"""The catalog: the ``products`` and ``prices`` read models and their queries.

One row per product and per price (``projections.aggregates``), with typed columns
``code`` and ``active`` (products), ``product_id`` and ``active`` (prices).

Queries (every one filters by project; another project's ids answer None):

- ``get_product(pool, schema, project_id, product_id) -> dict | None``
- ``list_products(pool, schema, project_id, *, active=None, limit, starting_after)
  -> (list[dict], has_more)``
- ``get_price(pool, schema, project_id, price_id) -> dict | None``
- ``list_prices(pool, schema, project_id, *, product_id=None, active=None,
  lookup_key=None, limit, starting_after) -> (list[dict], has_more)``
- ``prices_by_lookup_key(pool, schema, project_id, lookup_key) -> list[dict]``: the
  active prices published under that key (one, unless two products use the same key).
- ``list_plans(pool, schema, project_id) -> list[dict]``: every active product (in the
  order they were defined) with ``prices`` replaced by the list of its active prices.
  Not paged: a catalog is small.

Dicts have the keys of ``commands.catalog.product_summary`` / ``price_summary`` plus
``created_at`` and ``updated_at`` (ISO 8601 strings). A product's ``prices`` maps each
lookup key to its current price id.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg_pool import ConnectionPool

from domain.catalog import Price, Product
from projections import events as ev
from projections.aggregates import (
    AggregateModel,
    Kind,
    as_resource,
    get_resource,
    list_resources,
)
from projections.paging import fetch_all
from projections.schema import table

PRODUCTS, PRICES = "products", "prices"
PRODUCT_COLUMNS = (("code", "text"), ("active", "bool"))
PRICE_COLUMNS = (("product_id", "uuid"), ("active", "bool"))


def product_summary(product: Product) -> dict[str, Any]:
    return product.summary()


def price_summary(price: Price) -> dict[str, Any]:
    return price.summary()


class Catalog(AggregateModel):
    name = "catalog"
    kinds = (
        Kind(
            aggregate=Product,
            table=PRODUCTS,
            events=frozenset(
                {
                    ev.ProductDefined,
                    ev.ProductRevised,
                    ev.ProductPriceSet,
                    ev.ProductArchived,
                    ev.ProductOwnerSet,
                }
            ),
            columns=PRODUCT_COLUMNS,
            values=lambda p, _: (p.code, p.active),
            summary=product_summary,
        ),
        Kind(
            aggregate=Price,
            table=PRICES,
            events=frozenset({ev.PriceDefined, ev.PriceArchived, ev.PriceMappedToProviders}),
            columns=PRICE_COLUMNS,
            values=lambda p, _: (p.product_id, p.active),
            summary=price_summary,
        ),
    )


def get_product(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, product_id: UUID
) -> dict[str, Any] | None:
    return get_resource(pool, schema, PRODUCTS, project_id, "t.id = %s", [product_id])


def list_products(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    *,
    active: bool | None = None,
    limit: int,
    starting_after: UUID | str | None,
) -> tuple[list[dict[str, Any]], bool]:
    filters = [("active", active)]
    return list_resources(
        pool, schema, PRODUCTS, project_id, filters, limit=limit, starting_after=starting_after
    )


def get_price(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, price_id: UUID
) -> dict[str, Any] | None:
    return get_resource(pool, schema, PRICES, project_id, "t.id = %s", [price_id])


def list_prices(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    *,
    product_id: UUID | None = None,
    active: bool | None = None,
    lookup_key: str | None = None,
    limit: int,
    starting_after: UUID | str | None,
) -> tuple[list[dict[str, Any]], bool]:
    filters = [("product_id", product_id), ("active", active)]
    return list_resources(
        pool,
        schema,
        PRICES,
        project_id,
        filters,
        limit=limit,
        starting_after=starting_after,
        select=None if lookup_key is None else _with_lookup_key(schema, lookup_key),
    )


def _with_lookup_key(schema: str, lookup_key: str) -> sql.Composed:
    # The key lives in the summary only (no column of its own: the table predates it,
    # and a catalog is small enough to filter without an index).
    return sql.SQL(
        "SELECT t.summary, t.created_at, t.updated_at FROM {} t "
        "WHERE t.project_id = %s AND t.summary->>'lookup_key' = {}"
    ).format(table(schema, PRICES), sql.Literal(lookup_key))


def prices_by_lookup_key(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, lookup_key: str
) -> list[dict[str, Any]]:
    """The active prices published under ``lookup_key``, in definition order."""
    rows = fetch_all(
        pool,
        sql.SQL(
            "SELECT summary, created_at, updated_at FROM {} WHERE project_id = %s AND active "
            "AND summary->>'lookup_key' = %s ORDER BY position, id"
        ).format(table(schema, PRICES)),
        [project_id, lookup_key],
    )
    return [as_resource(row) for row in rows]


def list_plans(pool: ConnectionPool[Any], schema: str, project_id: UUID) -> list[dict[str, Any]]:
    """Active products with their active prices, each list in definition order."""
    products = fetch_all(
        pool,
        sql.SQL(
            "SELECT id, summary, created_at, updated_at FROM {} "
            "WHERE project_id = %s AND active ORDER BY position, id"
        ).format(table(schema, PRODUCTS)),
        [project_id],
    )
    prices = fetch_all(
        pool,
        sql.SQL(
            "SELECT product_id, summary, created_at, updated_at FROM {} "
            "WHERE project_id = %s AND active ORDER BY position, id"
        ).format(table(schema, PRICES)),
        [project_id],
    )
    by_product: dict[UUID, list[dict[str, Any]]] = {}
    for row in prices:
        by_product.setdefault(row["product_id"], []).append(as_resource(row))
    return [{**as_resource(p), "prices": by_product.get(p["id"], [])} for p in products]
