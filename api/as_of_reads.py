"""Reads ``as_of`` a position that rebuild several aggregates (docs/audit.md "Point in
time"): an invoice, a customer's subscriptions and entitlements, an account's
transactions, as their read models showed them then.

Each is built from the aggregates rebuilt at that position (``api.as_of``), shaped by
the same code as the read model's rows (each ``Kind``'s summary, ``projections.
point_in_time``), with the rules the live queries apply over those rows (collection,
entitlements) given the rows as they were. Which subscriptions a customer had is read
from the ``subscriptions`` read model (a subscription's row keeps the position that
created it, and its customer never changes), once it holds the position: a page's ids
are chosen there in SQL and only they are rebuilt, and a request rebuilds at most
``MAX_AS_OF_SUBSCRIPTIONS`` of a customer's subscriptions (409 ``limit_reached``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from psycopg import sql

from api.as_of import PointInTime, aggregate_as_of, require_projected
from api.tally import Tally
from domain.billing_settings import BillingSettings
from domain.dunning import InvoiceDunning
from domain.errors import InvalidCombination, LimitReached
from domain.invoices import Invoice
from domain.limits import MAX_AS_OF_SUBSCRIPTIONS
from domain.payment_methods import PaymentMethods
from domain.transactions import Transaction
from projections.aggregates import AggregateModel, Kind
from projections.billing_setup import BillingSetup
from projections.catalog import PRICES, PRODUCTS, Catalog
from projections.entitlements import GRANTING, entitlements_answer
from projections.invoices import collection_from
from projections.paging import fetch_all
from projections.payments import Payments
from projections.point_in_time import invoice_row, resource_row, transaction_row
from projections.schema import table
from projections.subscriptions import TABLE as SUBSCRIPTIONS
from projections.subscriptions import Subscriptions

Row = dict[str, Any]


def kind_of(model: type[AggregateModel], name: str) -> Kind:
    """The ``Kind`` of ``model`` kept in table ``name``."""
    return next(k for k in model.kinds if k.table == name)


def resource_as_of(
    tally: Tally,
    at: PointInTime,
    model: type[AggregateModel],
    name: str,
    aggregate_id: UUID,
    project_id: UUID,
) -> Row | None:
    """The row of table ``name`` for ``aggregate_id`` as it was at ``at`` (None: it
    did not exist then, or is not the project's)."""
    kind = kind_of(model, name)
    aggregate = aggregate_as_of(tally, at, kind.aggregate, aggregate_id, project_id)
    return None if aggregate is None else resource_row(kind, aggregate)


def with_collection_as_of(
    tally: Tally, at: PointInTime, project_id: UUID, rows: Sequence[Row]
) -> list[Row]:
    """``projections.invoices.with_collection`` from the billing settings and payment methods
    as they were at ``at``."""
    settings = resource_as_of(
        tally,
        at,
        BillingSetup,
        "billing_settings",
        BillingSettings.create_id(project_id),
        project_id,
    )
    provider = str((settings or {}).get("auto_charge_provider") or "")
    customers = {UUID(str(r["customer_id"])) for r in rows}
    methods = {
        c: resource_as_of(
            tally,
            at,
            Payments,
            "payment_methods",
            PaymentMethods.create_id(project_id, c),
            project_id,
        )
        for c in customers
    }
    found = collection_from(provider, methods)
    collected = []
    for row in rows:
        collection, reason = found[UUID(str(row["customer_id"]))]
        collected.append({**row, "collection": collection, "collection_reason": reason})
    return collected


def invoice_as_of(tally: Tally, at: PointInTime, project_id: UUID, invoice_id: UUID) -> Row | None:
    """``GET /v1/invoices/{id}`` at ``at``: the invoice and its dunning record."""
    invoice = aggregate_as_of(tally, at, Invoice, invoice_id, project_id)
    if invoice is None:
        return None
    dunning_id = InvoiceDunning.create_id(invoice_id)
    dunning = aggregate_as_of(tally, at, InvoiceDunning, dunning_id, project_id)
    return with_collection_as_of(tally, at, project_id, [invoice_row(invoice, dunning)])[0]


def subscription_as_of(
    tally: Tally, at: PointInTime, project_id: UUID, subscription_id: UUID
) -> Row | None:
    """``GET /v1/subscriptions/{id}`` at ``at``."""
    row = resource_as_of(tally, at, Subscriptions, SUBSCRIPTIONS, subscription_id, project_id)
    return None if row is None else with_collection_as_of(tally, at, project_id, [row])[0]


def _subscription_ids(
    tally: Tally,
    at: PointInTime,
    project_id: UUID,
    customer_id: UUID,
    *,
    after: UUID | None,
    limit: int,
) -> list[UUID]:
    """Up to ``limit`` of the customer's subscriptions created at or before ``at``, in
    log order, after ``after`` (none if ``after`` is not one of them), chosen in SQL so
    only the ones a page needs are rebuilt."""
    require_projected(tally, at)
    subs = table(tally.schema, SUBSCRIPTIONS)
    mine = "project_id = %s AND customer_id = %s AND position <= %s"
    query = sql.SQL("SELECT id FROM {} WHERE " + mine).format(subs)
    params: list[Any] = [project_id, customer_id, at.position]
    if after is not None:
        query += sql.SQL(
            " AND (position, id) > (SELECT position, id FROM {} WHERE " + mine + " AND id = %s)"
        ).format(subs)
        params += [project_id, customer_id, at.position, after]
    query += sql.SQL(" ORDER BY position, id LIMIT %s")
    rows = fetch_all(tally.views, query, [*params, limit])
    return [row["id"] for row in rows]


def _too_many(most: int) -> LimitReached:
    return LimitReached(
        f"as_of rebuilds at most {most} of a customer's subscriptions in one request",
        limit=most,
    )


def _subscription_at(tally: Tally, at: PointInTime, project_id: UUID, sub_id: UUID) -> Row | None:
    return resource_as_of(tally, at, Subscriptions, SUBSCRIPTIONS, sub_id, project_id)


def _with_status(
    tally: Tally,
    at: PointInTime,
    project_id: UUID,
    customer_id: UUID,
    *,
    status: str,
    limit: int,
    starting_after: UUID | None,
    most: int,
) -> list[Row]:
    """Up to ``limit + 1`` of the customer's subscriptions in ``status`` at ``at``: their
    status then is known only once rebuilt, so they are rebuilt a chunk at a time, in
    order, until enough are found, at most ``most`` of them (else 409)."""
    found: list[Row] = []
    after, scanned = starting_after, 0
    while True:
        ids = _subscription_ids(tally, at, project_id, customer_id, after=after, limit=limit + 1)
        for sub_id in ids:
            scanned += 1
            if scanned > most:
                raise _too_many(most)
            row = _subscription_at(tally, at, project_id, sub_id)
            if row is not None and row["status"] == status:
                found.append(row)
                if len(found) > limit:
                    return found
        if len(ids) <= limit:
            return found
        after = ids[-1]


def subscriptions_page(
    tally: Tally,
    at: PointInTime,
    project_id: UUID,
    *,
    customer_id: UUID | None,
    status: str | None,
    limit: int,
    starting_after: UUID | None,
    most: int = MAX_AS_OF_SUBSCRIPTIONS,
) -> tuple[list[Row], bool]:
    """``GET /v1/subscriptions`` at ``at``: one customer's (``customer_id`` is
    required with ``as_of``: a whole project's would rebuild every subscription). The
    page's ids are chosen in SQL and only they are rebuilt; with ``status`` (a status
    then, known once rebuilt) at most ``most`` are rebuilt looking for the page."""
    if customer_id is None:
        raise InvalidCombination("as_of on the list of subscriptions needs customer_id")
    if status is not None:
        rows = _with_status(
            tally, at, project_id, customer_id,
            status=status, limit=limit, starting_after=starting_after, most=most,
        )  # fmt: skip
        has_more = len(rows) > limit
    else:
        ids = _subscription_ids(
            tally, at, project_id, customer_id, after=starting_after, limit=limit + 1
        )
        has_more = len(ids) > limit
        rebuilt = (_subscription_at(tally, at, project_id, i) for i in ids[:limit])
        rows = [row for row in rebuilt if row is not None]
    page = with_collection_as_of(tally, at, project_id, rows[:limit])
    return page, has_more


def entitlements_as_of(
    tally: Tally,
    at: PointInTime,
    project_id: UUID,
    customer_id: UUID,
    most: int = MAX_AS_OF_SUBSCRIPTIONS,
) -> Row:
    """``GET /v1/customers/{id}/entitlements`` at ``at``: the customer's granting
    subscriptions then, with their prices' products as they were then (each price and
    product rebuilt once per request); a customer with more than ``most`` subscriptions
    then is refused (409 ``limit_reached``) before any is rebuilt."""
    ids = _subscription_ids(tally, at, project_id, customer_id, after=None, limit=most + 1)
    if len(ids) > most:
        raise _too_many(most)
    cache: dict[tuple[str, UUID], Row | None] = {}
    items = []
    for sub_id in ids:
        subscription = _subscription_at(tally, at, project_id, sub_id)
        if subscription is None or subscription["status"] not in GRANTING:
            continue
        products = _item_products(tally, at, project_id, subscription["items"], cache)
        for item, product in sorted(products, key=lambda pair: str(pair[1]["code"])):
            items.append(
                {
                    "subscription_id": subscription["id"],
                    "status": subscription["status"],
                    "code": product["code"],
                    "name": product["name"],
                    "features": product["features"],
                    "quantity": item["quantity"],
                }
            )
    return entitlements_answer(str(customer_id), items)


def _catalog_row(
    tally: Tally,
    at: PointInTime,
    project_id: UUID,
    name: str,
    row_id: UUID,
    cache: dict[tuple[str, UUID], Row | None],
) -> Row | None:
    """A price's or product's row at ``at``, rebuilt once per request (``cache``)."""
    key = (name, row_id)
    if key not in cache:
        cache[key] = resource_as_of(tally, at, Catalog, name, row_id, project_id)
    return cache[key]


def _item_products(
    tally: Tally,
    at: PointInTime,
    project_id: UUID,
    items: Iterable[Row],
    cache: dict[tuple[str, UUID], Row | None],
) -> list[tuple[Row, Row]]:
    """Each item with its price's product at ``at`` (an item whose price or product
    is not the project's is left out, as the live query's join leaves it out)."""
    out = []
    for item in items:
        price = _catalog_row(tally, at, project_id, PRICES, UUID(str(item["price_id"])), cache)
        if price is None:
            continue
        product_id = UUID(str(price["product_id"]))
        product = _catalog_row(tally, at, project_id, PRODUCTS, product_id, cache)
        if product is not None:
            out.append((item, product))
    return out


def transactions_page(
    tally: Tally,
    at: PointInTime,
    project_id: UUID,
    account_id: UUID,
    *,
    limit: int,
    starting_after: UUID | None,
) -> tuple[list[Row], bool]:
    """``GET /v1/accounts/{id}/transactions`` at ``at``: the page of the account's
    transactions linked at or before it (the ``transaction_accounts`` read model, in its
    order, once it holds the position), each rebuilt as it was then."""
    require_projected(tally, at)
    links = table(tally.schema, "transaction_accounts")
    query = sql.SQL(
        "SELECT transaction_id FROM {l} WHERE account_id = %s AND project_id = %s "
        "AND position <= %s"
    ).format(l=links)
    params: list[Any] = [account_id, project_id, at.position]
    if starting_after is not None:
        query += sql.SQL(
            " AND (position, transaction_id) > (SELECT position, transaction_id FROM {l} "
            "WHERE account_id = %s AND project_id = %s AND transaction_id = %s)"
        ).format(l=links)
        params += [account_id, project_id, starting_after]
    query += sql.SQL(" ORDER BY position, transaction_id LIMIT %s")
    ids = [r["transaction_id"] for r in fetch_all(tally.views, query, [*params, limit + 1])]
    rows = []
    for transaction_id in ids[:limit]:
        found = aggregate_as_of(tally, at, Transaction, transaction_id, project_id)
        if found is not None:
            rows.append(transaction_row(found))
    return rows, len(ids) > limit
