"""How much work one request or one tenant may cause the server: endpoints and meters
per project, exports, webhook sends, backtests, as_of reads, a revision's fan-out and
the bus's serialized attempt (the values; ``domain.limits`` re-exports them with the
rest)."""

from __future__ import annotations

# -- webhooks ---------------------------------------------------------------------------
# A project has at most this many webhook endpoints that are not deleted (Stripe allows
# 16 per account): each one is a delivery thread's work on every event, so the number is
# kept small; a product that needs more fans out behind one endpoint or uses a broker.
MAX_WEBHOOK_ENDPOINTS_PER_PROJECT = 16
# Meters per project: every usage event is read against each meter of its name, and every
# ingestion and usage read loads the project's meters whole.
MAX_METERS_PER_PROJECT = 200
# An export through the API (GET /v1/exports/...) streams at most MAX_EXPORT_ITEMS events
# or journal entries: it holds one of the API's pooled connections while it streams, so
# one response is bounded; a client asks again from the last position + 1.
MAX_EXPORT_ITEMS = 100_000
# A webhook send (connecting, the request, the whole answer) ends at most this long after
# it began, however the receiver paces its bytes: TALLY_WEBHOOK_TIMEOUT_S sets it (10 s
# by default), up to this. A socket timeout bounds each read only, so a receiver
# trickling one byte a second would otherwise hold a shared delivery worker at will.
MAX_WEBHOOK_SEND_S = 60
# One endpoint's delivery pass starts no send after this many seconds: an endpoint whose
# receiver answers slowly gives its worker (one of a few, shared by every project) to
# the endpoints waiting, and goes on where it stopped in its next pass.
WEBHOOK_PASS_S = 30
# A backtest (POST /v1/backtests, tally backtest) re-rates at most MAX_BACKTEST_INVOICES
# invoices, each rebuilt from the event store in the request: a longer history is
# backtested window by window.
MAX_BACKTEST_INVOICES = 10_000
# ... and reads at most MAX_BACKTEST_EVENTS events in all (its invoices' and their
# subscriptions', each read once): it holds an event-store connection on an API thread,
# so its work is bounded whatever the subscriptions' histories.
MAX_BACKTEST_EVENTS = 250_000
# An as_of read of a customer's subscriptions (a page filtered by status then, which is
# known only once each is rebuilt, or the entitlements, which need them all) rebuilds at
# most MAX_AS_OF_SUBSCRIPTIONS of them from the log; more answers 409 limit_reached.
MAX_AS_OF_SUBSCRIPTIONS = 1_000
# A product revision that changes its name or features changes the entitlement set of
# every customer with a granting subscription the product prices, all in the one
# projection batch that applies it (projections/entitlement_changes.py: about 0.25 ms a
# customer, and every tenant's read models and outbox wait behind that batch). A revision
# that would reach more customers than this is refused (409 limit_reached), with nothing
# recorded; a deployment may set a lower bound (TALLY_MAX_REVISION_FAN_OUT).
MAX_REVISION_FAN_OUT = 10_000
# Its price book through the API: a catalog file's text, short enough that the longest
# one (or one character more, refused as too long) fits the default body limit.
MAX_BACKTEST_CATALOG_CHARS = 16 * 1024


# The bus's last, serialized attempt at a command that kept losing races
# (commands/bus/synchronous.py) holds the event table's write lock, which every tenant's
# writes need, from its load to its append. It waits at most this long for the lock and
# holds it at most this long before appending; past either it rolls back and answers
# ``concurrent_update`` as when it gave up before. So one hot customer stalls other
# tenants' writes by at most about this much per serialized attempt.
SERIALIZED_LOCK_WAIT_MS = 100
SERIALIZED_HOLD_MS = 100
