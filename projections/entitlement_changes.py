"""Entitlement changes: each time a customer's entitlement set changes, the new set, at
the log position of the event that changed it (``billing.entitlements.changed``).

A customer's set (``projections.entitlements``: its granting subscriptions' plans,
features and seats) changes when one of its subscriptions is created, changes items
(a plan change, a scheduled change taking effect at renewal), or changes status
(trial started or ended, activated, past due, unpaid, paused, resumed, canceled,
expired), and when a product one of its granting subscriptions is priced by is revised
(its name or features): that changes the set of every such customer at once.

The set is computed event by event, not from the other read models' rows at the end of
a batch, so how the log was cut into batches never changes which changes there are: a
replay gives the same rows. This model keeps what it needs for that itself:

- ``entitlement_subscriptions``: per subscription its customer, status and items (each
  item's product and quantity; a price's product never changes, so it is read from the
  ``prices`` read model: ``reads``), and its position (its creation's);
- ``entitlement_products``: per product its code, name and features;
- ``entitlement_changes``: one row per change, keyed like the outbox by (position,
  ordinal): the customers whose set one event changed get ordinals 1, 2, ... in the
  order of their ids. A customer's current set is its latest row; a customer without
  one has the empty set, so a subscription that grants nothing yet (``incomplete``)
  changes nothing. An event that leaves a set as it was writes nothing.

``projections.integration_events`` copies each batch's rows into the outbox.

A product revision is fanned out in the batch that applies it: its cost grows with the
number of customers whose granting subscriptions it prices (their subscriptions and
last sets are read, each set computed and compared, one row written per changed set;
docs/events.md gives the figures). So a revision that would reach more than
``MAX_REVISION_FAN_OUT`` customers is refused before it is recorded
(``api/revision_fan_out.py`` counts them with ``fan_out`` below).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from projections import events as ev
from projections.base import ReadModel, Tracked, copy_rows, rows_of
from projections.entitlements import GRANTING, entitlements_answer
from projections.schema import table

SUBSCRIPTIONS = "entitlement_subscriptions"
PRODUCTS = "entitlement_products"
CHANGES = "entitlement_changes"
CHANGE_COLUMNS = ("position", "ordinal", "project_id", "customer_id", "entitlements",
                  "occurred_at")  # fmt: skip
CHANGE_TYPES = ("int8", "int4", "uuid", "uuid", "jsonb", "timestamptz")

# The subscription events that set its status, and those that set its items (the
# attributes of the same names they carry: ``domain.subscriptions``).
STATUS_FROM: frozenset[type] = frozenset({
    ev.SubscriptionCreated, ev.SubscriptionTrialEnded, ev.SubscriptionTrialStarted,
    ev.SubscriptionActivated, ev.SubscriptionStatusChanged, ev.SubscriptionPaused,
    ev.SubscriptionResumed, ev.SubscriptionCanceled,
})  # fmt: skip
ITEMS_FROM: frozenset[type] = frozenset(
    {
        ev.SubscriptionCreated,
        ev.SubscriptionRenewed,
        ev.SubscriptionItemsChanged,
        ev.SubscriptionPeriodMirrored,  # a provider-run subscription's plan (issue 18)
    }
)
PRODUCT_EVENTS: frozenset[type] = frozenset({ev.ProductDefined, ev.ProductRevised})
HANDLES: frozenset[type] = STATUS_FROM | ITEMS_FROM | PRODUCT_EVENTS


@dataclass
class _Subscription:
    id: UUID
    project_id: UUID
    customer_id: UUID
    status: str
    items: list[tuple[UUID, int]]  # (product id, quantity)
    position: int


@dataclass
class _Product:
    id: UUID
    project_id: UUID
    code: str
    name: str
    features: list[str]
    position: int


@dataclass
class _State:
    """What one batch needs, loaded once and changed event by event."""

    subscriptions: dict[UUID, _Subscription] = field(default_factory=dict)
    products: dict[UUID, _Product] = field(default_factory=dict)
    product_of_price: dict[UUID, UUID] = field(default_factory=dict)
    by_customer: dict[UUID, list[_Subscription]] = field(default_factory=dict)
    last: dict[UUID, dict[str, Any]] = field(default_factory=dict)  # customer: its set
    changed_subscriptions: set[UUID] = field(default_factory=set)
    changed_products: set[UUID] = field(default_factory=set)

    def add(self, sub: _Subscription) -> None:
        self.subscriptions[sub.id] = sub
        self.by_customer.setdefault(sub.customer_id, []).append(sub)

    def project_of(self, event: Any) -> UUID:
        if type(event) in PRODUCT_EVENTS:
            return self.products[event.originator_id].project_id
        return self.subscriptions[event.originator_id].project_id

    def grants(self, customer_id: UUID) -> list[dict[str, Any]]:
        """One row per item of the customer's granting subscriptions, in the order of
        ``projections.entitlements``' query (subscription position and id, then code)."""
        mine = sorted(self.by_customer.get(customer_id, []), key=lambda s: (s.position, s.id))
        out: list[dict[str, Any]] = []
        for sub in mine:
            if sub.status not in GRANTING:
                continue
            # An item of a price or product no read model holds grants nothing, as the
            # GET's joins leave it out (a log written past the catalog, as a benchmark's).
            items = [(self.products[p], q) for p, q in sub.items if p in self.products]
            for product, quantity in sorted(items, key=lambda i: i[0].code):
                out.append({
                    "subscription_id": sub.id, "status": sub.status, "code": product.code,
                    "name": product.name, "features": product.features, "quantity": quantity,
                })  # fmt: skip
        return out

    def set_of(self, customer_id: UUID) -> dict[str, Any]:
        return entitlements_answer(str(customer_id), self.grants(customer_id))

    def previous(self, customer_id: UUID) -> dict[str, Any]:
        return self.last.get(customer_id) or entitlements_answer(str(customer_id), [])


class EntitlementChanges(ReadModel):
    name = "entitlement_changes"
    tables = (SUBSCRIPTIONS, PRODUCTS, CHANGES)
    handles = HANDLES
    reads = frozenset({"catalog"})  # a price's product

    def apply(self, cur: Cursor[Any], events: Sequence[Tracked]) -> None:
        mine = [(e, p) for e, p in events if type(e) in HANDLES]
        if not mine:
            return
        state = self._load(cur, mine)
        changes: list[tuple[Any, ...]] = []
        for event, position in mine:
            ordinal = 0
            for customer_id in sorted(self._fold(state, event, position)):
                now = state.set_of(customer_id)
                if now == state.previous(customer_id):
                    continue
                state.last[customer_id] = now
                ordinal += 1
                project_id = state.project_of(event)
                changes.append(
                    (position, ordinal, project_id, customer_id, Jsonb(now), event.timestamp)
                )
        self._save(cur, state, changes)

    # -- folding ---------------------------------------------------------------------------

    def _fold(self, state: _State, event: Any, position: int) -> set[UUID]:
        """Apply one event to ``state``; the customers whose set it may have changed."""
        kind = type(event)
        if kind in PRODUCT_EVENTS:
            return _fold_product(state, event, position)
        sub = state.subscriptions.get(event.originator_id)
        if sub is None:
            if kind is not ev.SubscriptionCreated:
                raise LookupError(f"{SUBSCRIPTIONS}: {event.originator_id} is not projected")
            sub = _Subscription(
                event.originator_id, event.project_id, event.customer_id, "", [], position
            )
            state.add(sub)
        if kind in STATUS_FROM:
            sub.status = event.status
        if kind in ITEMS_FROM:
            products = (state.product_of_price.get(UUID(str(i["price_id"]))) for i in event.items)
            sub.items = [
                (product, int(i["quantity"]))
                for product, i in zip(products, event.items, strict=True)
                if product is not None
            ]
        state.changed_subscriptions.add(sub.id)
        return {sub.customer_id}

    # -- loading ---------------------------------------------------------------------------

    def _load(self, cur: Cursor[Any], events: list[Tracked]) -> _State:
        """The batch's subscriptions, the other subscriptions of their customers and of
        the customers a revised product grants to, their products, and their last sets."""
        state = _State()
        touched = {e.originator_id for e, _ in events if type(e) not in PRODUCT_EVENTS}
        revised = {e.originator_id for e, _ in events if type(e) is ev.ProductRevised}
        customers = {e.customer_id for e, _ in events if type(e) is ev.SubscriptionCreated}
        customers |= self._customers(cur, touched, revised)
        self._load_subscriptions(cur, state, customers)
        prices = {
            UUID(str(i["price_id"])) for e, _ in events if type(e) in ITEMS_FROM for i in e.items
        }
        state.product_of_price = self._products_of(cur, prices)
        wanted = {p for s in state.subscriptions.values() for p, _ in s.items}
        wanted |= set(state.product_of_price.values()) | revised
        self._load_products(cur, state, wanted)
        self._load_last(cur, state, customers)
        return state

    def _customers(self, cur: Cursor[Any], touched: set[UUID], revised: set[UUID]) -> set[UUID]:
        """The customers of the ``touched`` subscriptions known before this batch, and
        those with a granting subscription priced by a ``revised`` product (a scan of
        its project's subscriptions: revisions are rare)."""
        found: set[UUID] = set()
        if touched:
            cur.execute(
                sql.SQL("SELECT customer_id FROM {} WHERE id = ANY(%s)").format(
                    self.t(SUBSCRIPTIONS)
                ),
                (list(touched),),
            )
            found |= {r[0] for r in rows_of(cur)}
        if revised:
            cur.execute(
                sql.SQL(
                    "SELECT DISTINCT customer_id FROM {s} WHERE project_id IN (SELECT "
                    "project_id FROM {p} WHERE id = ANY(%s)) AND status = ANY(%s) AND EXISTS "
                    "(SELECT 1 FROM jsonb_array_elements(items) i WHERE (i->>0)::uuid = ANY(%s))"
                ).format(s=self.t(SUBSCRIPTIONS), p=self.t(PRODUCTS)),
                (list(revised), list(GRANTING), list(revised)),
            )
            found |= {r[0] for r in rows_of(cur)}
        return found

    def _load_subscriptions(self, cur: Cursor[Any], state: _State, customers: set[UUID]) -> None:
        if not customers:
            return
        cur.execute(
            sql.SQL(
                "SELECT id, project_id, customer_id, status, items, position FROM {} "
                "WHERE customer_id = ANY(%s)"
            ).format(self.t(SUBSCRIPTIONS)),
            (list(customers),),
        )
        for i, project, customer, status, items, position in rows_of(cur):
            pairs = [(UUID(str(p)), int(q)) for p, q in items]
            state.add(_Subscription(i, project, customer, status, pairs, position))

    def _products_of(self, cur: Cursor[Any], prices: set[UUID]) -> dict[UUID, UUID]:
        if not prices:
            return {}
        cur.execute(
            sql.SQL("SELECT id, product_id FROM {} WHERE id = ANY(%s)").format(self.t("prices")),
            (list(prices),),
        )
        return {r[0]: r[1] for r in rows_of(cur)}

    def _load_products(self, cur: Cursor[Any], state: _State, ids: set[UUID]) -> None:
        if not ids:
            return
        cur.execute(
            sql.SQL(
                "SELECT id, project_id, code, name, features, position FROM {} WHERE id = ANY(%s)"
            ).format(self.t(PRODUCTS)),
            (list(ids),),
        )
        for i, project, code, name, features, position in rows_of(cur):
            state.products[i] = _Product(i, project, code, name, list(features), position)

    def _load_last(self, cur: Cursor[Any], state: _State, customers: set[UUID]) -> None:
        if not customers:
            return
        cur.execute(
            sql.SQL(
                "SELECT DISTINCT ON (customer_id) customer_id, entitlements FROM {} "
                "WHERE customer_id = ANY(%s) ORDER BY customer_id, position DESC, ordinal DESC"
            ).format(self.t(CHANGES)),
            (list(customers),),
        )
        state.last.update({r[0]: r[1] for r in rows_of(cur)})

    # -- saving ----------------------------------------------------------------------------

    def _save(self, cur: Cursor[Any], state: _State, changes: list[tuple[Any, ...]]) -> None:
        subscriptions = [state.subscriptions[i] for i in sorted(state.changed_subscriptions)]
        if subscriptions:
            cur.executemany(
                sql.SQL(
                    "INSERT INTO {} (id, project_id, customer_id, status, items, position) "
                    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                    "status = excluded.status, items = excluded.items"
                ).format(self.t(SUBSCRIPTIONS)),
                [
                    (
                        s.id,
                        s.project_id,
                        s.customer_id,
                        s.status,
                        Jsonb([[str(p), q] for p, q in s.items]),
                        s.position,
                    )
                    for s in subscriptions
                ],
            )
        products = [state.products[i] for i in sorted(state.changed_products)]
        if products:
            cur.executemany(
                sql.SQL(
                    "INSERT INTO {} (id, project_id, code, name, features, position) "
                    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                    "name = excluded.name, features = excluded.features"
                ).format(self.t(PRODUCTS)),
                [
                    (p.id, p.project_id, p.code, p.name, Jsonb(p.features), p.position)
                    for p in products
                ],
            )
        copy_rows(cur, self.t(CHANGES), CHANGE_COLUMNS, CHANGE_TYPES, changes)


def _fold_product(state: _State, event: Any, position: int) -> set[UUID]:
    """A product defined or revised; the customers with a granting subscription priced
    by it (a new product has none yet)."""
    if type(event) is ev.ProductDefined:
        state.products[event.originator_id] = _Product(
            event.originator_id, event.project_id, event.code, event.name,
            list(event.features), position,
        )  # fmt: skip
        state.changed_products.add(event.originator_id)
        return set()
    product = state.products[event.originator_id]
    product.name, product.features = event.name, list(event.features)
    state.changed_products.add(product.id)
    return {
        s.customer_id
        for s in state.subscriptions.values()
        if s.status in GRANTING and any(p == product.id for p, _ in s.items)
    }


def fan_out(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, product_id: UUID, at_most: int
) -> int:
    """How many customers a revision of ``product_id`` would fan out to (those with a
    granting subscription priced by it, as ``_customers`` finds them), counted up to
    ``at_most`` + 1: the caller only needs to know whether there are more."""
    query = sql.SQL(
        "SELECT count(*) AS n FROM (SELECT DISTINCT customer_id FROM {s} WHERE project_id = %s "
        "AND status = ANY(%s) AND EXISTS (SELECT 1 FROM jsonb_array_elements(items) i "
        "WHERE (i->>0)::uuid = %s) LIMIT %s) AS c"
    ).format(s=table(schema, SUBSCRIPTIONS))
    with pool.connection() as conn:
        row = conn.execute(query, (project_id, list(GRANTING), product_id, at_most + 1)).fetchone()
    return int(row["n"]) if row else 0
