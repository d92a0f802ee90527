"""Payment read models: provider events, provider calls (the outbox), carts, payment
methods and project provider settings; their queries, and what the outbox worker asks.

One row per aggregate (``projections.aggregates``), folded by the domain's own event
methods. Typed columns: ``webhook_events`` (provider, event_id, type, status, retry_at),
``provider_calls`` (operation, call_state, subject, next_attempt_at), ``carts`` (status),
``payment_methods`` (customer_id), ``provider_settings`` (provider).

Queries (all filter by project, except the two ``due_*`` ones, which serve the outbox
worker across projects):

- ``get_webhook_event``/``list_webhook_events(..., status=None, type=None)``
- ``get_provider_call``/``list_provider_calls(..., state=None, subject=None)``
- ``get_cart``; ``get_payment_methods(pool, schema, project_id, customer_id)``;
  ``get_provider_settings(pool, schema, project_id)``
- ``due_webhook_events(pool, schema, now, limit, include_parked=False) -> [(project, id,
  due)]``: received events, and parked ones whose retry time has come (all parked ones
  with ``include_parked``, ``due`` False for those whose time has not come), oldest first.
- ``due_provider_calls(pool, schema, now, limit) -> [(project, id)]``: pending calls
  whose next attempt is due, soonest first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg_pool import ConnectionPool

from domain.carts import Cart
from domain.payment_methods import PaymentMethods
from domain.provider_calls import ProviderCall
from domain.provider_settings import ProviderSettings
from domain.subscription_runners import SubscriptionRunner
from domain.webhooks import WebhookEvent
from projections.aggregates import AggregateModel, Kind, get_resource, list_resources
from projections.paging import fetch_all
from projections.schema import table

_webhook: Any = WebhookEvent
_call: Any = ProviderCall
_cart: Any = Cart
_methods: Any = PaymentMethods
_settings: Any = ProviderSettings
_runner: Any = SubscriptionRunner


def _summary(aggregate: Any) -> dict[str, Any]:
    summary: dict[str, Any] = aggregate.summary()
    return summary


class Payments(AggregateModel):
    name = "payments"
    kinds = (
        Kind(
            aggregate=WebhookEvent,
            table="webhook_events",
            events=frozenset(
                {_webhook.Received, _webhook.Applied, _webhook.Ignored, _webhook.Parked}
            ),
            columns=(
                ("provider", "text"),
                ("event_id", "text"),
                ("type", "text"),
                ("status", "text"),
                ("retry_at", "timestamptz"),
            ),
            values=lambda a, s: (a.provider, a.event_id, a.type, a.status, a.retry_at),
            summary=_summary,
        ),
        Kind(
            aggregate=ProviderCall,
            table="provider_calls",
            events=frozenset(
                {
                    _call.Requested,
                    _call.Succeeded,
                    _call.Failed,
                    _call.RetryScheduled,
                    _call.PaymentNoted,
                    _call.Deferred,
                    _call.RefundDecided,
                }
            ),
            columns=(
                ("operation", "text"),
                ("call_state", "text"),
                ("subject", "text"),
                ("next_attempt_at", "timestamptz"),
            ),
            values=lambda a, s: (a.operation, a.state, a.subject, a.next_attempt_at),
            summary=_summary,
        ),
        Kind(
            aggregate=Cart,
            table="carts",
            events=frozenset({_cart.Created, _cart.LineAdded, _cart.LineRemoved, _cart.CheckedOut}),
            columns=(("status", "text"),),
            values=lambda a, s: (a.status,),
            summary=_summary,
        ),
        Kind(
            aggregate=PaymentMethods,
            table="payment_methods",
            events=frozenset(
                {
                    _methods.Started,
                    _methods.Attached,
                    _methods.Detached,
                    _methods.DefaultSet,
                    _methods.ProviderChangeSeen,
                }
            ),
            columns=(("customer_id", "uuid"),),
            values=lambda a, s: (a.customer_id,),
            summary=_summary,
        ),
        Kind(
            aggregate=ProviderSettings,
            table="provider_settings",
            events=frozenset({_settings.Started, _settings.Configured}),
            columns=(("provider", "text"),),
            values=lambda a, s: (a.provider,),
            summary=_summary,
        ),
        # Who runs the project's subscriptions (issue 18).
        Kind(
            aggregate=SubscriptionRunner,
            table="subscription_runners",
            events=frozenset({_runner.Started, _runner.Chosen, _runner.PlanChosen}),
            columns=(("run_by", "text"),),
            values=lambda a, s: (a.run_by,),
            summary=_summary,
        ),
    )


def get_webhook_event(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, event_id: UUID
) -> dict[str, Any] | None:
    return get_resource(pool, schema, "webhook_events", project_id, "t.id = %s", [event_id])


def list_webhook_events(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    *,
    status: str | None = None,
    type: str | None = None,
    limit: int,
    starting_after: UUID | str | None,
) -> tuple[list[dict[str, Any]], bool]:
    filters = [("status", status), ("type", type)]
    return list_resources(
        pool,
        schema,
        "webhook_events",
        project_id,
        filters,
        limit=limit,
        starting_after=starting_after,
    )


def get_provider_call(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, call_id: UUID
) -> dict[str, Any] | None:
    return get_resource(pool, schema, "provider_calls", project_id, "t.id = %s", [call_id])


def list_provider_calls(
    pool: ConnectionPool[Any],
    schema: str,
    project_id: UUID,
    *,
    state: str | None = None,
    subject: str | None = None,
    limit: int,
    starting_after: UUID | str | None,
) -> tuple[list[dict[str, Any]], bool]:
    filters = [("call_state", state), ("subject", subject)]
    return list_resources(
        pool,
        schema,
        "provider_calls",
        project_id,
        filters,
        limit=limit,
        starting_after=starting_after,
    )


def get_cart(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, cart_id: UUID
) -> dict[str, Any] | None:
    return get_resource(pool, schema, "carts", project_id, "t.id = %s", [cart_id])


def get_payment_methods(
    pool: ConnectionPool[Any], schema: str, project_id: UUID, customer_id: UUID
) -> dict[str, Any] | None:
    return get_resource(
        pool, schema, "payment_methods", project_id, "t.customer_id = %s", [customer_id]
    )


def get_subscription_runner(
    pool: ConnectionPool[Any], schema: str, project_id: UUID
) -> dict[str, Any] | None:
    return get_resource(pool, schema, "subscription_runners", project_id, "TRUE", [])


def get_provider_settings(
    pool: ConnectionPool[Any], schema: str, project_id: UUID
) -> dict[str, Any] | None:
    return get_resource(pool, schema, "provider_settings", project_id, "TRUE", [])


def due_webhook_events(
    pool: ConnectionPool[Any],
    schema: str,
    now: datetime,
    limit: int,
    *,
    include_parked: bool = False,
) -> list[tuple[UUID, UUID, bool]]:
    query = sql.SQL(
        "SELECT project_id, id, (status = 'received' OR retry_at <= %s) AS due FROM {} "
        "WHERE status = 'received' OR (status = 'parked' AND (%s OR retry_at <= %s)) "
        "ORDER BY position, id LIMIT %s"
    ).format(table(schema, "webhook_events"))
    rows = fetch_all(pool, query, [now, include_parked, now, limit])
    return [(r["project_id"], r["id"], bool(r["due"])) for r in rows]


def due_provider_calls(
    pool: ConnectionPool[Any], schema: str, now: datetime, limit: int
) -> list[tuple[UUID, UUID]]:
    query = sql.SQL(
        "SELECT project_id, id FROM {} WHERE call_state = 'pending' AND next_attempt_at <= %s "
        "ORDER BY next_attempt_at, id LIMIT %s"
    ).format(table(schema, "provider_calls"))
    rows = fetch_all(pool, query, [now, limit])
    return [(r["project_id"], r["id"]) for r in rows]
