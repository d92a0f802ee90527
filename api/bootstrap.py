"""The composition root: builds a running Tally from settings.

The server, the CLI, the tests and the benchmarks all build Tally here, with different
settings, so there is one way the pieces are wired.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from adapters.audit_chain import install_chain
from adapters.audit_export import install_export_index
from adapters.broker_publisher import BrokerPublisher
from adapters.clock import SystemClock
from adapters.database import (
    SweepOnFailure,
    Target,
    check,
    parse,
    start_embedded,
    startup_lock,
)
from adapters.event_writer import event_writer
from adapters.eventstore import open_store
from adapters.outbox import Outbox
from adapters.outbox_claims import PostgresClaims
from adapters.point_in_time import install_recorded_at
from adapters.provider_directory import ProviderDirectory
from adapters.providers.config import ProviderSettings
from adapters.secrets import SecretBox
from adapters.usage_source import PostgresUsage
from adapters.usage_store import create_usage_tables
from adapters.webhook_delivery import WebhookDelivery
from api.integration_events import envelope, envelopes
from api.settings import Settings
from api.tally import NO_PROJECT, Tally
from commands import (
    billing_setup,
    carts,
    catalog,
    checkout,
    checkout_expiry,
    credit_purchases,
    credits,
    customers,
    identity,
    inbound_commands,
    invoice_payments,
    invoicing,
    ledger,
    meters,
    operators,
    payment_methods,
    plan_change_preview,
    progressive_billing,
    projects,
    provider_calls,
    provider_config,
    provider_subscriptions,
    subscription_invoices,
    subscriptions,
    test_clocks,
    webhook_endpoints,
    webhooks,
)
from commands.bus import CommandBus
from domain.clock import Clock
from projections.integration_catalog import TYPES as INTEGRATION_TYPES

# The server, the CLI and the tests take what they run from here; the parts of ``api``
# that build them import ``api.tally`` instead, so nothing imports this module back.
__all__ = ["NO_PROJECT", "Tally", "build", "resolve_target"]


def resolve_target(settings: Settings) -> Target:
    """The database to use; starts the embedded Postgres when no URL is set."""
    url = settings.database_url or start_embedded(settings.data_dir)
    target = parse(url)
    check(target)
    return target


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    provider_settings: ProviderSettings | None = None,
) -> Tally:
    from projections.schema import create_tables  # the read models' tables

    clock = clock or SystemClock()
    # First, so that a misconfigured provider refuses to start before anything opens.
    key = settings.secrets_key.get_secret_value() if settings.secrets_key else None
    secrets = SecretBox.from_setting(key)
    providers = ProviderDirectory(
        provider_settings or ProviderSettings(), clock=clock, secrets=secrets
    )
    target = resolve_target(settings)
    # Server workers start together: their schema set-up takes turns (startup_lock).
    with startup_lock(target, settings.db_schema):
        store = open_store(target, settings.db_schema, settings.pool_size)
        # The hash chain's triggers (docs/audit.md), before anything is written; a store
        # from before the chain has its rows hashed here, once.
        install_chain(target.url, settings.db_schema, store.events_table)
        # When each event is stored, for as_of by time (docs/audit.md "Point in time").
        install_recorded_at(target.url, settings.db_schema, store.events_table)
        # A project's aggregates by their creation events, for its exports (docs/audit.md).
        install_export_index(target.url, settings.db_schema, store.events_table)
        sweep = SweepOnFailure()
        views: ConnectionPool[Any] = ConnectionPool(
            target.url,
            min_size=1,
            max_size=settings.pool_size,
            kwargs={"row_factory": dict_row, "autocommit": True},
            # A pooled connection may have died while it waited (Postgres restarted):
            # checked as it is handed out, so that a query does not fail, and answer
            # 503, for a database that is there.
            check=sweep,
            open=True,
        )
        sweep.pool = views
        create_tables(views, settings.db_schema)
        create_usage_tables(views, settings.db_schema)
    bus = CommandBus(
        store,
        {
            **ledger.HANDLERS,
            **projects.HANDLERS,
            **operators.HANDLERS,
            **customers.HANDLERS,
            **catalog.HANDLERS,
            **meters.HANDLERS,
            **progressive_billing.HANDLERS,  # usage thresholds (issue 13)
            **credits.HANDLERS,  # prepaid credits (issue 13)
            **credit_purchases.HANDLERS,  # credits bought on an invoice (issue 13)
            **subscriptions.HANDLERS,
            # Provider-run subscriptions (issue 18): these replace some of the above.
            **provider_subscriptions.HANDLERS,
            **test_clocks.HANDLERS,
            # Invoicing (issue 4).
            **invoicing.HANDLERS,
            **subscription_invoices.HANDLERS,
            **invoice_payments.HANDLERS,
            **billing_setup.HANDLERS,
            # Payment providers (issue 5).
            **webhooks.HANDLERS,
            **provider_calls.HANDLERS,
            **provider_config.handlers(secrets),
            # Webhook endpoints (issue 12).
            **webhook_endpoints.handlers(secrets, INTEGRATION_TYPES),
            **checkout.HANDLERS,
            **checkout_expiry.HANDLERS,  # Paddle checkouts nobody finished
            **carts.HANDLERS,
            **payment_methods.HANDLERS,
            # Customer access (issue 14).
            **identity.handlers(secrets),
            **plan_change_preview.HANDLERS,
            # Commands in from a broker (issue 12): a refused one is recorded.
            **inbound_commands.HANDLERS,
        },
        clock,
        max_batch=settings.group_commit_max,
        max_retries=settings.max_retries,
        writer=event_writer(store.recorder),
        # Renewals rate usage from its running totals (issue 13).
        usage=PostgresUsage(views, settings.db_schema),
    )
    tally = Tally(
        settings=settings,
        target=target,
        store=store,
        bus=bus,
        clock=clock,
        views=views,
        providers=providers,
    )
    # Provider-call claims hold a connection for a whole provider request: their own
    # pool, so that slow providers never take the read models' connections.
    claims_sweep = SweepOnFailure()
    claims_pool: ConnectionPool[Any] = ConnectionPool(
        target.url,
        min_size=0,
        max_size=settings.claims_pool_size,
        kwargs={"autocommit": True},
        check=claims_sweep,
        open=True,
    )
    claims_sweep.pool = claims_pool
    tally.closers.append(claims_pool.close)
    tally.outbox = Outbox(
        tally, interval_s=settings.outbox_interval_s, claims=PostgresClaims(claims_pool)
    )
    tally.webhooks = WebhookDelivery(
        tally,
        partial(envelope, tally=tally),
        timeout_s=settings.webhook_timeout_s,
        retention_days=settings.webhook_attempts_retention_days,
    )
    tally.closers.append(tally.webhooks.close)
    broker_target = settings.broker_target()
    if broker_target is not None:
        tally.broker = BrokerPublisher(
            tally,
            partial(envelope, tally=tally),
            broker_target,
            interval_s=settings.broker_interval_s,
            batch=settings.broker_batch,
            render_all=partial(envelopes, tally=tally),
        )
        tally.closers.append(tally.broker.close)
    return tally
