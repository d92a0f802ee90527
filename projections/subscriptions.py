"""Subscriptions: the ``subscriptions`` read model, its queries, and what the scheduler asks.

One row per subscription (``projections.aggregates``): the aggregate's state, folded by
the domain's own event methods, so ``current_period_*`` and ``next_due_at`` are the
aggregate's (calendar periods from ``domain.periods``, offsets kept). Typed columns:
``customer_id``, ``status``, ``next_due_at`` and ``test_clock_id``.

Queries (every one filters by project except ``due_subscriptions``, which serves the
scheduler across projects):

- ``get_subscription(pool, schema, project_id, subscription_id) -> dict | None``
- ``list_subscriptions(pool, schema, project_id, *, customer_id=None, status=None,
  limit, starting_after) -> (list[dict], has_more)``
- ``current_subscription(pool, schema, project_id, external_id) -> dict | None``: the
  newest subscription of the customer with that external id that is neither
  ``canceled`` nor ``incomplete_expired``.
- ``due_subscriptions(pool, schema, now, limit) -> list[(project_id, subscription_id,
  version)]``: subscriptions on the system clock whose ``next_due_at <= now``, soonest
  first; ``version`` is the version the read model has seen (the scheduler's
  idempotency key). Subscriptions on a test clock are moved only by their clock.

A subscription dict has the keys of ``commands.subscriptions.subscription_summary`` plus
``created_at`` and ``updated_at`` (ISO 8601 strings).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg_pool import ConnectionPool

from domain.subscription_state import TRIAL_END_NOTICE
from domain.subscription_states import CANCELED, EXPIRED, TRIALING
from domain.subscriptions import Subscription
from projections import events as ev
from projections.aggregates import (
    AggregateModel,
    Kind,
    as_resource,
    get_resource,
    list_resources,
)
from projections.paging import fetch_all, fetch_one
from projections.schema import table

TABLE = "subscriptions"
COLUMNS = (
    ("customer_id", "uuid"),
    ("status", "text"),
    ("next_due_at", "timestamptz"),
    ("test_clock_id", "uuid"),
)
ENDED = (CANCELED, EXPIRED)


def subscription_summary(sub: Subscription) -> dict[str, Any]:
    return sub.summary()


def _values(sub: Any, summary: dict[str, Any]) -> tuple[Any, ...]:
    # next_due_at from the summary: working out periods again would double their cost.
    due = summary["next_due_at"]
    return (
        sub.customer_id,
        sub.status,
        None if due is None else datetime.fromisoformat(due),
        sub.test_clock_id,
    )


class Subscriptions(AggregateModel):
    name = "subscriptions"
    kinds = (
        Kind(
            aggregate=Subscription,
            table=TABLE,
            events=frozenset(
                {
                    ev.SubscriptionCreated,
                    ev.SubscriptionRenewed,
                    ev.SubscriptionTrialEnded,
                    ev.SubscriptionTrialExtended,
                    ev.SubscriptionTrialStarted,
                    ev.SubscriptionCancelScheduled,
                    ev.SubscriptionCancelUndone,
                    ev.SubscriptionCanceled,
                    ev.SubscriptionPaused,
                    ev.SubscriptionResumed,
                    ev.SubscriptionActivated,
                    ev.SubscriptionStatusChanged,
                    ev.SubscriptionChangeScheduled,
                    ev.SubscriptionItemsChanged,
                    ev.SubscriptionTrialEndAnnounced,
                    ev.SubscriptionHandedToProvider,
                    ev.SubscriptionProviderAsked,
                    ev.SubscriptionProviderLinked,
                    ev.SubscriptionPeriodMirrored,
                }
            ),
            columns=COLUMNS,
            values=_values,
            summary=subscription_summary,
        ),
    )


def get_subscription(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, subscription_id: UUID
) -> dict[str, Any] | None:
    return get_resource(pool, schema, TABLE, project_id, "t.id = %s", [subscription_id])


def list_subscriptions(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    *,
    customer_id: UUID | None = None,
    status: str | None = None,
    limit: int,
    starting_after: UUID | str | None,
) -> tuple[list[dict[str, Any]], bool]:
    filters = [("customer_id", customer_id), ("status", status)]
    return list_resources(
        pool, schema, TABLE, project_id, filters, limit=limit, starting_after=starting_after
    )


def current_subscription(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, external_id: str
) -> dict[str, Any] | None:
    query = sql.SQL(
        "SELECT s.summary, s.created_at, s.updated_at FROM {s} s "
        "JOIN {c} c ON c.id = s.customer_id AND c.project_id = s.project_id "
        "WHERE s.project_id = %s AND c.external_id = %s AND s.status <> ALL(%s) "
        "ORDER BY s.position DESC, s.id DESC LIMIT 1"
    ).format(s=table(schema, TABLE), c=table(schema, "customers"))
    row = fetch_one(pool, query, [project_id, external_id, list(ENDED)])
    return None if row is None else as_resource(row)


def due_subscriptions(
    pool: ConnectionPool[Any], schema: str, now: datetime, limit: int
) -> list[tuple[UUID, UUID, int]]:
    """Subscriptions on the system clock with work due at ``now``, soonest first: a
    status step (``next_due_at``), or a trial whose end is due to be announced
    (``Subscription.trial_notice_at``: a trialing one's ``next_due_at`` is its trial end,
    and its state says whether that end was announced)."""
    assert limit > 0, limit
    query = sql.SQL(
        "SELECT project_id, id, version FROM {} WHERE test_clock_id IS NULL AND "
        "(next_due_at <= %s OR (status = %s AND next_due_at <= %s "
        "AND state->'trial_end_announced' IS DISTINCT FROM state->'trial_end')) "
        "ORDER BY next_due_at, id LIMIT %s"
    ).format(table(schema, TABLE))
    rows = fetch_all(pool, query, [now, TRIALING, now + TRIAL_END_NOTICE, limit])
    return [(r["project_id"], r["id"], int(r["version"])) for r in rows]
