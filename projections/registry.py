"""The read models and where they are.

- ``PROJECTIONS``: every read model class, in the order a batch applies them.
- ``make_models(pool, schema, classes=PROJECTIONS, *, rebuilding=False)``,
  ``read_positions(cur, schema, models)``: the worker's and replay's side (replay's
  scratch models are ``rebuilding``: see ``ReadModel.rebuilding``).
- ``current_position(pool, schema) -> int``, ``wait_for_position(pool, schema, position,
  timeout_s) -> bool`` and ``status(pool, schema) -> list[ReadModelStatus]``: the
  readers' side (see ``projections.runner`` for what they promise); ``publish`` is how a
  worker in this process wakes waiting readers at once.

``projections.runner`` re-exports all of them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import Cursor, sql
from psycopg_pool import ConnectionPool

from projections.api_keys import ApiKeys
from projections.balances import AccountBalances
from projections.base import ReadModel, ViewTracking, rows_of
from projections.billing_setup import BillingSetup
from projections.catalog import Catalog
from projections.creator_earnings import CreatorEarnings
from projections.credit_grants import RetiredCreditGrants
from projections.credits import Credits
from projections.customers import Customers
from projections.entitlement_changes import EntitlementChanges
from projections.holds import Holds
from projections.identity_providers import IdentityProviders
from projections.integration_events import IntegrationEvents
from projections.invoices import Invoices
from projections.journal import Journal
from projections.meters import Meters
from projections.payment_objects import PaymentObjects
from projections.payments import Payments
from projections.schema import STALLS_TABLE, TRACKING_TABLE, table
from projections.stalls import Stall, stalls
from projections.subscriptions import Subscriptions
from projections.system_accounts import SystemAccounts
from projections.test_clocks import TestClocks
from projections.transactions import Transactions
from projections.usage_thresholds import UsageLedgers, UsageThresholds
from projections.webhook_endpoints import WebhookEndpoints

# Order matters: holds read ``accounts``, and the journal (with the system accounts)
# reads ``transactions``, ``invoices`` and ``customer_billing``, as written earlier in
# the same transaction. The other billing read models look nothing up while they apply
# a batch (their joins happen at query time); invoices read their own rows back.
PROJECTIONS: tuple[type[ReadModel], ...] = (
    ApiKeys,
    AccountBalances,
    Holds,
    Transactions,
    Invoices,
    BillingSetup,
    Credits,  # before the journal: it reads a credit balance's currency
    RetiredCreditGrants,  # reads credits
    Journal,
    SystemAccounts,
    Customers,
    Meters,
    Catalog,
    Subscriptions,
    TestClocks,
    Payments,
    PaymentObjects,  # reads invoices
    WebhookEndpoints,
    IdentityProviders,
    EntitlementChanges,  # after the catalog: it reads a price's product
    CreatorEarnings,  # reads no other read model
    UsageThresholds,  # reads no other read model
    UsageLedgers,
    IntegrationEvents,  # last: it reads the objects the others wrote
)


def make_models(
    pool: ConnectionPool[Any],
    schema: str,
    classes: Sequence[type[ReadModel]] = PROJECTIONS,
    *,
    rebuilding: bool = False,
) -> list[ReadModel]:
    view = ViewTracking(pool, schema)
    models = [cls(view) for cls in classes]
    for model in models:
        model.rebuilding = rebuilding  # a replay's scratch copy (``ReadModel.rebuilding``)
    return models


def read_positions(cur: Cursor[Any], schema: str, models: Sequence[ReadModel]) -> dict[str, int]:
    """Each read model's tracked position (creating missing tracking rows at 0)."""
    tracking = table(schema, TRACKING_TABLE)
    names = [m.name for m in models]
    cur.execute(
        sql.SQL(
            "INSERT INTO {} (name, position) SELECT unnest(%s::text[]), 0 "
            "ON CONFLICT (name) DO NOTHING"
        ).format(tracking),
        (names,),
    )
    cur.execute(
        sql.SQL("SELECT name, position FROM {} WHERE name = ANY(%s)").format(tracking), (names,)
    )
    return {name: int(position) for name, position in rows_of(cur)}


def current_position(pool: ConnectionPool[Any], schema: str) -> int:
    """The position every read model that is not stalled has reached (0 before the first
    batch); if every one is stalled, the lowest of all."""
    names = [cls.name for cls in PROJECTIONS]
    # A read model without a tracking row has applied nothing yet.
    query = sql.SQL(
        "SELECT CASE WHEN count(*) = %s THEN coalesce(min(t.position) FILTER "
        "(WHERE s.name IS NULL), min(t.position)) ELSE 0 END "
        "FROM {} t LEFT JOIN {} s ON s.name = t.name WHERE t.name = ANY(%s)"
    ).format(table(schema, TRACKING_TABLE), table(schema, STALLS_TABLE))
    with pool.connection() as conn, conn.cursor() as cur:
        cur.execute(query, (len(names), names))
        row = rows_of(cur)[0]
    return int(row[0] or 0)


@dataclass(frozen=True)
class ReadModelStatus:
    name: str
    position: int  # the last notification id it applied (0: none yet)
    stall: Stall | None


def status(pool: ConnectionPool[Any], schema: str) -> list[ReadModelStatus]:
    """Every read model (``PROJECTIONS`` order) with its position and its stall, if any."""
    with pool.connection() as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL("SELECT name, position FROM {} WHERE name = ANY(%s)").format(
                table(schema, TRACKING_TABLE)
            ),
            ([cls.name for cls in PROJECTIONS],),
        )
        positions = {str(name): int(position) for name, position in rows_of(cur)}
    stalled = {stall.name: stall for stall in stalls(pool, schema)}
    return [
        ReadModelStatus(cls.name, positions.get(cls.name, 0), stalled.get(cls.name))
        for cls in PROJECTIONS
    ]


# Progress of workers running in this process, so that waiting readers wake at once.
_progress: dict[tuple[str, str], int] = {}
_progress_changed = threading.Condition()


def publish(key: tuple[str, str], position: int, *, lower: bool = False) -> None:
    """Tell waiting readers in this process where the read models are. ``lower``: the
    position went down (a stalled read model resumed and is catching up)."""
    with _progress_changed:
        _progress[key] = position if lower else max(position, _progress.get(key, 0))
        _progress_changed.notify_all()


def wait_for_progress(pool: ConnectionPool[Any], schema: str, after: int, timeout_s: float) -> int:
    """Block until this process hears that the read models passed ``after`` (from a
    worker of its own or the ``ProgressListener``), or ``timeout_s`` passes; the
    position last heard (0: nothing yet). What followers of the read models (the broker
    publisher) wait on, so that they start as soon as a batch is applied."""
    key = (conninfo(pool), schema)
    with _progress_changed:
        _progress_changed.wait_for(lambda: _progress.get(key, 0) > after, timeout=timeout_s)
        return _progress.get(key, 0)


def wait_for_position(
    pool: ConnectionPool[Any], schema: str, position: int, timeout_s: float
) -> bool:
    """True once every read model that is not stalled has applied ``position``; False
    after ``timeout_s``."""
    key = (conninfo(pool), schema)
    deadline = time.monotonic() + timeout_s
    delay_s = 0.002
    while True:
        if _progress.get(key, 0) >= position or current_position(pool, schema) >= position:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        with _progress_changed:
            _progress_changed.wait_for(
                lambda: _progress.get(key, 0) >= position, timeout=min(delay_s, remaining)
            )
        delay_s = min(delay_s * 2, 0.05)


def conninfo(pool: ConnectionPool[Any]) -> str:
    """The pool's connection string (the pool may hold a function that makes it)."""
    info = pool.conninfo
    return info() if callable(info) else info
