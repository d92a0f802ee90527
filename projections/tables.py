"""The read-model tables: their columns, keys and indexes (``TABLES``), and the columns
added to them since they were first created (``ADDED_COLUMNS``). ``projections.schema``
creates them; replay compares them.

Every read-model row carries ``project_id``, and every table has a ``position`` column:
the notification id of the event that created the row, which is the stable first key of
every paginated list (then the row id). ``TABLES`` lists each read-model table with the
columns replay compares, in one place, so replay and DDL cannot drift apart.

Tables (all in ``schema``):

- ``accounts``: one row per wallet; the balance columns are named like
  ``Account.summary()`` (``ledger_balance``, ``held_balance``, ``available_balance``).
- ``holds``: one row per hold, keyed by ``(account_id, hold_id)``.
- ``transactions`` and ``transaction_accounts`` (which wallet took part in which
  transaction, so "transactions of account X" is one indexed query).
- ``journal_entries`` and ``postings`` (signed amounts; ``account`` is a posting ref such
  as ``wallet:<uuid>`` or ``clearing:stripe``).
- ``system_accounts``: balances of non-wallet posting refs per (project, account, currency).
- ``projects`` and ``api_keys`` (only the key's hash is stored; auth reads this table).
- ``customers``, ``meters``, ``products``, ``prices``, ``subscriptions`` and
  ``test_clocks``: one row per aggregate, kept by ``projections.aggregates`` (the
  aggregate's ``state`` and ``summary`` as jsonb, plus the typed columns their queries
  filter on).
- ``webhook_events``, ``provider_calls``, ``carts``, ``payment_methods`` and
  ``provider_settings``: payments (issue 5), kept by ``projections.payments`` the same way.
- ``invoices`` (typed: customer, subscription, status, number, currency and
  ``period_at``, the period start or else the creation time), ``invoice_dunning``,
  ``credit_notes`` (one row per note, keyed by project and note id), ``tax_rates``,
  ``coupons``, ``promotion_codes``, ``billing_settings`` and ``customer_billing``
  (credit balance and ``next_due_at``, the earliest due work): invoicing (issue 4),
  kept by ``projections.invoices`` and ``projections.billing_setup``.
- ``webhook_endpoints``: one row per endpoint (issue 12), kept by
  ``projections.webhook_endpoints`` like the aggregate tables above.
- ``payment_objects`` (one row per public payment), ``payment_refunds`` (provider refund
  calls of a known payment) and ``payment_changes`` (the log positions that emitted a
  ``billing.payment.*`` event): kept by ``projections.payment_objects``.
- ``entitlement_subscriptions``, ``entitlement_products`` and ``entitlement_changes``:
  what a customer's entitlement set is built from, and each change of it (issue 12),
  kept by ``projections.entitlement_changes``.
- ``credit_balances``: a customer's prepaid credits in one currency, its grants in the
  summary (issue 13), kept by ``projections.credits``; ``credit_grants_retired``: the
  grants it retired, as they ended (``projections.credit_grants``).
- ``integration_events``: one row per domain event with a public ``billing.*`` type,
  the outbox webhook (and later broker) delivery reads, kept by
  ``projections.integration_events``.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.limits import USAGE_LATE_GRACE_S


@dataclass(frozen=True)
class Table:
    name: str
    columns: str  # the column definitions, comma separated
    primary_key: str
    indexes: tuple[str, ...] = ()  # "name: column list [WHERE ...]"
    # Columns whose value depends on how the log was cut into batches, which replay
    # therefore does not compare (an integration event's object: see
    # ``projections.integration_events``).
    uncompared: tuple[str, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.strip().split()[0] for c in self.columns.split(",")]

    @property
    def compared_columns(self) -> list[str]:
        return [c for c in self.column_names if c not in self.uncompared]


def _aggregate_columns(own: str) -> str:
    """Columns of a table kept by ``projections.aggregates``: ``own`` typed columns
    between the id and project and the summary, state, times, version and position."""
    return (
        f"id uuid NOT NULL, project_id uuid NOT NULL, {own}, summary jsonb NOT NULL, "
        "state jsonb NOT NULL, created_at timestamptz NOT NULL, "
        "updated_at timestamptz NOT NULL, version integer NOT NULL, position bigint NOT NULL"
    )


TABLES: tuple[Table, ...] = (
    Table(
        "accounts",
        "id uuid NOT NULL, project_id uuid NOT NULL, owner_ref text NOT NULL, "
        "currency text NOT NULL, status text NOT NULL, ledger_balance bigint NOT NULL, "
        "held_balance bigint NOT NULL, available_balance bigint NOT NULL, "
        "overdraft_limit bigint NOT NULL, metadata jsonb NOT NULL, "
        "created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, "
        "version integer NOT NULL, position bigint NOT NULL, low_balance_threshold bigint",
        "id",
        ("accounts_page: project_id, position, id", "accounts_owner: project_id, owner_ref"),
    ),
    Table(
        "holds",
        "account_id uuid NOT NULL, hold_id text NOT NULL, project_id uuid NOT NULL, "
        "currency text NOT NULL, amount bigint NOT NULL, expires_at timestamptz NOT NULL, "
        "destination text NOT NULL, status text NOT NULL, captured_amount bigint NOT NULL, "
        "transaction_id uuid, created_at timestamptz NOT NULL, "
        "updated_at timestamptz NOT NULL, position bigint NOT NULL",
        "account_id, hold_id",
        (
            "holds_page: account_id, position, hold_id",
            "holds_due: expires_at WHERE status = 'active'",
        ),
    ),
    Table(
        "transactions",
        "id uuid NOT NULL, project_id uuid NOT NULL, kind text NOT NULL, "
        "state text NOT NULL, amount bigint NOT NULL, currency text NOT NULL, "
        "from_ref text NOT NULL, to_ref text NOT NULL, reversed_amount bigint NOT NULL, "
        "description text NOT NULL, external_ref text NOT NULL, "
        "failure_reason text NOT NULL, created_at timestamptz NOT NULL, "
        "updated_at timestamptz NOT NULL, version integer NOT NULL, position bigint NOT NULL",
        "id",
        # Checkouts nobody finished, oldest first (commands/checkout_expiry.py).
        ("transactions_processing: created_at WHERE state = 'processing'",),
    ),
    Table(
        "transaction_accounts",
        "account_id uuid NOT NULL, transaction_id uuid NOT NULL, project_id uuid NOT NULL, "
        "position bigint NOT NULL",
        "account_id, position, transaction_id",
    ),
    Table(
        "journal_entries",
        "id uuid NOT NULL, project_id uuid NOT NULL, transaction_id uuid NOT NULL, "
        "kind text NOT NULL, currency text NOT NULL, created_at timestamptz NOT NULL, "
        "position bigint NOT NULL",
        "id",
        # A project's journal in log order (exports: adapters/journal_export.py).
        ("journal_entries_page: project_id, position",),
    ),
    Table(
        "postings",
        "entry_id uuid NOT NULL, seq smallint NOT NULL, project_id uuid NOT NULL, "
        "account text NOT NULL, currency text NOT NULL, amount bigint NOT NULL, "
        "position bigint NOT NULL",
        "entry_id, seq",
        ("postings_account: account, position, entry_id",),
    ),
    Table(
        "system_accounts",
        "project_id uuid NOT NULL, account text NOT NULL, currency text NOT NULL, "
        "balance bigint NOT NULL",
        "project_id, account, currency",
    ),
    Table(
        "projects",
        "project_id uuid NOT NULL, name text NOT NULL, mode text NOT NULL, "
        "created_at timestamptz NOT NULL, position bigint NOT NULL, "
        "default_currency text, rate_limits jsonb",
        "project_id",
    ),
    Table(
        "api_keys",
        "key_id text NOT NULL, project_id uuid NOT NULL, key_hash text NOT NULL, "
        "prefix text NOT NULL, label text NOT NULL, revoked boolean NOT NULL, "
        "created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, "
        "position bigint NOT NULL, expires_at timestamptz",
        "key_id",
        ("api_keys_project: project_id, position, key_id",),
    ),
    Table(
        "customers",
        _aggregate_columns("external_id text NOT NULL, email text NOT NULL, test_clock_id uuid"),
        "id",
        (
            "customers_page: project_id, position, id",
            "customers_external_id: project_id, external_id",
            "customers_email: project_id, email",
        ),
    ),
    Table(
        "meters",
        _aggregate_columns("code text NOT NULL, event_name text NOT NULL"),
        "id",
        ("meters_page: project_id, position, id", "meters_event: project_id, event_name"),
    ),
    Table(
        "products",
        _aggregate_columns("code text NOT NULL, active boolean NOT NULL"),
        "id",
        ("products_page: project_id, position, id",),
    ),
    Table(
        "prices",
        _aggregate_columns("product_id uuid NOT NULL, active boolean NOT NULL"),
        "id",
        (
            "prices_page: project_id, position, id",
            "prices_product: project_id, product_id, position",
        ),
    ),
    Table(
        "subscriptions",
        _aggregate_columns(
            "customer_id uuid NOT NULL, status text NOT NULL, next_due_at timestamptz, "
            "test_clock_id uuid"
        ),
        "id",
        (
            "subscriptions_page: project_id, position, id",
            "subscriptions_customer: project_id, customer_id, position",
            "subscriptions_due: next_due_at, id "
            "WHERE test_clock_id IS NULL AND next_due_at IS NOT NULL",
        ),
    ),
    Table(
        "test_clocks",
        _aggregate_columns("name text NOT NULL"),
        "id",
        ("test_clocks_page: project_id, position, id",),
    ),
    # Payments (issue 5): projections/payments.py.
    Table(
        "webhook_events",
        _aggregate_columns(
            "provider text NOT NULL, event_id text NOT NULL, type text NOT NULL, "
            "status text NOT NULL, retry_at timestamptz"
        ),
        "id",
        (
            "webhook_events_page: project_id, position, id",
            "webhook_events_due: position, id WHERE status IN ('received', 'parked')",
        ),
    ),
    Table(
        "provider_calls",
        _aggregate_columns(
            "operation text NOT NULL, call_state text NOT NULL, subject text NOT NULL, "
            "next_attempt_at timestamptz"
        ),
        "id",
        (
            "provider_calls_page: project_id, position, id",
            "provider_calls_due: next_attempt_at, id WHERE call_state = 'pending'",
        ),
    ),
    Table(
        "carts",
        _aggregate_columns("status text NOT NULL"),
        "id",
        ("carts_page: project_id, position, id",),
    ),
    Table(
        "payment_methods",
        _aggregate_columns("customer_id uuid NOT NULL"),
        "id",
        ("payment_methods_customer: project_id, customer_id",),
    ),
    Table(
        "provider_settings",
        _aggregate_columns("provider text NOT NULL"),
        "id",
        ("provider_settings_project: project_id",),
    ),
    Table(
        "subscription_runners",
        _aggregate_columns("run_by text NOT NULL"),
        "id",
        ("subscription_runners_project: project_id",),
    ),
    # Invoicing (issue 4): projections/invoices.py and projections/billing_setup.py.
    Table(
        "invoices",
        _aggregate_columns(
            "customer_id uuid NOT NULL, subscription_id uuid, status text NOT NULL, "
            "number text, currency text NOT NULL, period_at timestamptz NOT NULL"
        ),
        "id",
        (
            "invoices_page: project_id, position, id",
            "invoices_customer: project_id, customer_id, position, id",
            "invoices_subscription: project_id, subscription_id, position, id "
            "WHERE subscription_id IS NOT NULL",
            "invoices_status: project_id, status, position, id",
            "invoices_period: project_id, period_at",
        ),
    ),
    Table(
        "invoice_dunning",
        _aggregate_columns("invoice_id uuid NOT NULL, next_attempt_at timestamptz"),
        "id",
        ("invoice_dunning_invoice: invoice_id",),
    ),
    Table(
        "credit_notes",
        "project_id uuid NOT NULL, id text NOT NULL, invoice_id uuid NOT NULL, "
        "customer_id uuid NOT NULL, currency text NOT NULL, amount bigint NOT NULL, "
        "refund_to text NOT NULL, note jsonb NOT NULL, created_at timestamptz NOT NULL, "
        "position bigint NOT NULL",
        "project_id, id",
        (
            "credit_notes_page: project_id, position, id",
            "credit_notes_invoice: project_id, invoice_id, position, id",
            "credit_notes_customer: project_id, customer_id, position, id",
        ),
    ),
    Table(
        "tax_rates",
        _aggregate_columns("active boolean NOT NULL"),
        "id",
        ("tax_rates_page: project_id, position, id",),
    ),
    Table(
        "coupons",
        _aggregate_columns("code text NOT NULL, active boolean NOT NULL"),
        "id",
        ("coupons_page: project_id, position, id",),
    ),
    Table(
        "promotion_codes",
        _aggregate_columns("code text NOT NULL, coupon_id uuid NOT NULL"),
        "id",
        (
            "promotion_codes_page: project_id, position, id",
            "promotion_codes_coupon: project_id, coupon_id, position, id",
        ),
    ),
    Table(
        "billing_settings",
        _aggregate_columns("invoice_prefix text NOT NULL"),
        "id",
        ("billing_settings_project: project_id",),
    ),
    Table(
        "customer_billing",
        _aggregate_columns(
            "customer_id uuid NOT NULL, credit_balance bigint NOT NULL, next_due_at timestamptz"
        ),
        "id",
        (
            "customer_billing_customer: project_id, customer_id",
            "customer_billing_due: next_due_at, id WHERE next_due_at IS NOT NULL",
        ),
    ),
    # Webhook endpoints (issue 12): projections/webhook_endpoints.py.
    Table(
        "webhook_endpoints",
        _aggregate_columns("status text NOT NULL"),
        "id",
        ("webhook_endpoints_page: project_id, position, id",),
    ),
    # The project's identity provider (issue 14): projections/identity_providers.py.
    Table("identity_providers", _aggregate_columns("kind text"), "id"),
    # The public payment object (issue 12): projections/payment_objects.py.
    Table(
        "payment_objects",
        "id uuid NOT NULL, project_id uuid NOT NULL, customer_id uuid, invoice_id uuid, "
        "transaction_id uuid, invoice_payment text, method text NOT NULL, "
        "amount bigint NOT NULL, amount_refunded bigint NOT NULL, currency text NOT NULL, "
        "status text NOT NULL, provider text, reference text, failure_code text, "
        "failure_message text, created_at timestamptz NOT NULL, "
        "updated_at timestamptz NOT NULL, position bigint NOT NULL, "
        "checkout boolean NOT NULL DEFAULT false",
        "id",
        (
            "payment_objects_page: project_id, position, id",
            "payment_objects_transaction: transaction_id WHERE transaction_id IS NOT NULL",
            "payment_objects_invoice: invoice_id WHERE invoice_id IS NOT NULL",
        ),
    ),
    Table(
        "payment_refunds",
        "id uuid NOT NULL, project_id uuid NOT NULL, payment_id uuid NOT NULL, "
        "amount bigint NOT NULL, state text NOT NULL, position bigint NOT NULL",
        "id",
    ),
    Table(
        "payment_changes",
        "position bigint NOT NULL, project_id uuid NOT NULL, payment_id uuid NOT NULL, "
        "type text NOT NULL",
        "position",
    ),
    # Entitlement changes (issue 12): projections/entitlement_changes.py.
    Table(
        "entitlement_subscriptions",
        "id uuid NOT NULL, project_id uuid NOT NULL, customer_id uuid NOT NULL, "
        "status text NOT NULL, items jsonb NOT NULL, position bigint NOT NULL",
        "id",
        (
            "entitlement_subscriptions_customer: customer_id",
            "entitlement_subscriptions_project: project_id, status",
        ),
    ),
    Table(
        "entitlement_products",
        "id uuid NOT NULL, project_id uuid NOT NULL, code text NOT NULL, name text NOT NULL, "
        "features jsonb NOT NULL, position bigint NOT NULL",
        "id",
    ),
    Table(
        "entitlement_changes",
        "position bigint NOT NULL, ordinal integer NOT NULL, project_id uuid NOT NULL, "
        "customer_id uuid NOT NULL, entitlements jsonb NOT NULL, "
        "occurred_at timestamptz NOT NULL",
        "position, ordinal",
        ("entitlement_changes_customer: customer_id, position, ordinal",),
    ),
    # Usage ledgers and thresholds (issue 13): projections/usage_thresholds.py.
    Table(
        "usage_billing",
        _aggregate_columns("subscription_id uuid NOT NULL"),
        "id",
        ("usage_billing_subscription: subscription_id",),
    ),
    Table(
        "usage_thresholds",
        "id uuid NOT NULL, project_id uuid NOT NULL, customer_id uuid NOT NULL, "
        "thresholds jsonb NOT NULL, position bigint NOT NULL",
        "id",
        ("usage_thresholds_customer: project_id, customer_id",),
    ),
    # Creators' usage and earnings (issue 13): projections/creator_earnings.py.
    Table(
        "creator_prices",
        "id uuid NOT NULL, project_id uuid NOT NULL, product_id uuid NOT NULL, "
        "position bigint NOT NULL",
        "id",
    ),
    Table(
        "creator_fees",
        "id uuid NOT NULL, project_id uuid NOT NULL, percent text NOT NULL, "
        "position bigint NOT NULL",
        "id",
    ),
    Table(
        "creator_invoices",
        "id uuid NOT NULL, project_id uuid NOT NULL, customer_id uuid NOT NULL, "
        "currency text NOT NULL, status text NOT NULL, position bigint NOT NULL, "
        "line_ids jsonb NOT NULL DEFAULT '[]', total bigint NOT NULL DEFAULT 0",
        "id",
    ),
    Table(
        "creator_lines",
        "invoice_id uuid NOT NULL, line_id text NOT NULL, project_id uuid NOT NULL, "
        "product_id uuid NOT NULL, customer_id uuid NOT NULL, currency text NOT NULL, "
        "kind text NOT NULL, period_start timestamptz, period_end timestamptz, "
        "amount bigint NOT NULL, meter text, group_key text, quantity numeric, "
        "status text NOT NULL, fee bigint, position bigint NOT NULL",
        "invoice_id, line_id",
        ("creator_lines_product: project_id, product_id, period_start",),
    ),
    # Integration events (issue 12): projections/integration_events.py.
    # Keyed by (position, ordinal): the row of the event recorded at ``position`` has
    # ordinal 0, the events derived at that position (``billing.entitlements.changed``)
    # 1, 2, ... Every destination follows the pair.
    Table(
        "integration_events",
        "position bigint NOT NULL, ordinal integer NOT NULL DEFAULT 0, "
        "project_id uuid NOT NULL, type text NOT NULL, "
        "object_kind text NOT NULL, object_id uuid NOT NULL, object jsonb NOT NULL, "
        "occurred_at timestamptz NOT NULL",
        "position, ordinal",
        ("integration_events_page: project_id, position, ordinal",),
        uncompared=("object",),
    ),
    # Prepaid credits (issue 13): projections/credits.py, one row per customer and currency.
    Table(
        "credit_balances",
        _aggregate_columns(
            "customer_id uuid NOT NULL, currency text NOT NULL, balance bigint NOT NULL, "
            "next_expiry_at timestamptz"
        ),
        "id",
        (
            "credit_balances_customer: project_id, customer_id, currency",
            "credit_balances_expiry: next_expiry_at WHERE next_expiry_at IS NOT NULL",
        ),
    ),
    Table(
        "credit_grants_retired",
        "balance_id uuid NOT NULL, grant_id text NOT NULL, project_id uuid NOT NULL, "
        "customer_id uuid NOT NULL, currency text NOT NULL, seq bigint NOT NULL, "
        "grant_state jsonb NOT NULL, position bigint NOT NULL",
        "balance_id, grant_id",
        ("credit_grants_retired_customer: project_id, customer_id, currency, seq",),
    ),
)


# Columns added to a table after deployments had created it, which ``CREATE TABLE IF NOT
# EXISTS`` does not add: (table, column definition). Each must allow null or have a
# default (the rows projected before it have none).
ADDED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("accounts", "low_balance_threshold bigint"),
    # Every row written before the outbox's key became (position, ordinal) is a
    # recorded event's own row: ordinal 0.
    ("integration_events", "ordinal integer NOT NULL DEFAULT 0"),
    # A hosted checkout's sale or top-up is a payment too (issue 12); every row before
    # was a charge or an invoice's payment.
    ("payment_objects", "checkout boolean NOT NULL DEFAULT false"),
    # Issue 14: a project's default currency and rate limits, a rotated key's expiry.
    ("projects", "default_currency text"),
    ("projects", "rate_limits jsonb"),
    ("api_keys", "expires_at timestamptz"),
    # Issue 13: creators' earnings net discounts, tax and credit notes
    # (projections/creator_netting.py); invoices before match no lines and keep them.
    ("creator_invoices", "line_ids jsonb NOT NULL DEFAULT '[]'"),
    ("creator_invoices", "total bigint NOT NULL DEFAULT 0"),
)

# Fields added to an aggregate's stored ``summary`` (and ``state``) after deployments had
# written rows without them, which ``projections.schema`` fills at start-up exactly as the
# projection of today computes them from the same events, so that ``tally replay`` finds
# an upgraded deployment's rows equal at once (not only after each row's next event):
# (table, SQL run as ``UPDATE <table> SET ... WHERE ...``). Each is idempotent: it only
# touches rows still without the field, so a start after the first changes nothing.
FILLED_FIELDS: tuple[tuple[str, str], ...] = (
    # usage_late_grace_s (issue 13). ``summary()`` merges the defaults, so every row shows
    # it; ``state.values`` holds it only where the settings were only opened (version 1:
    # opening takes today's defaults), not configured (a recorded Configured event set
    # the values of then, without it).
    (
        "billing_settings",
        "summary = summary || jsonb_build_object('usage_late_grace_s', "
        f"{USAGE_LATE_GRACE_S}), state = CASE WHEN version = 1 THEN jsonb_set(state, "
        f"'{{values,usage_late_grace_s}}', '{USAGE_LATE_GRACE_S}') ELSE state END "
        "WHERE NOT summary ? 'usage_late_grace_s'",
    ),
    # Provider-run subscriptions (issue 18): prices map to no provider price, and
    # subscriptions are Tally's, as every row written before could only be.
    (
        "prices",
        "summary = summary || jsonb_build_object('provider_price_ids', '{}'::jsonb) "
        "WHERE NOT summary ? 'provider_price_ids'",
    ),
    (
        "subscriptions",
        "summary = summary || jsonb_build_object('run_by', 'tally', "
        "'provider_subscription', NULL) WHERE NOT summary ? 'run_by'",
    ),
    # platform_fee_percent (issue 13, creators' earnings): as usage_late_grace_s above.
    (
        "billing_settings",
        "summary = summary || jsonb_build_object('platform_fee_percent', '0'), "
        "state = CASE WHEN version = 1 THEN jsonb_set(state, "
        "'{values,platform_fee_percent}', '\"0\"') ELSE state END "
        "WHERE NOT summary ? 'platform_fee_percent'",
    ),
    # A product's owner (Product version 2) and a price's package (Price version 3),
    # issue 13: none on every row written before.
    (
        "products",
        "summary = summary || '{\"owner\": null}', "
        'state = state || \'{"owner": null, "class_version": 2}\' '
        "WHERE NOT summary ? 'owner'",
    ),
    (
        "prices",
        "summary = summary || '{\"package\": null}', "
        'state = state || \'{"package": null, "class_version": 3}\' '
        "WHERE NOT summary ? 'package'",
    ),
)

# Primary keys changed after deployments had created the table: (table, the new key's
# columns, the indexes the change replaces). ``projections.schema`` moves a table whose
# key is not yet that to it, once.
CHANGED_KEYS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("integration_events", "position, ordinal", ("integration_events_project",)),
)
