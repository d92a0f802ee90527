"""Every limit on what a client may send, in one place (as TigerBeetle keeps them).

The API's schemas are built from these values, so OpenAPI states them, and the domain
checks them again, so a command that slips past the API is refused with nothing
written. The rule they serve: no event that a read model cannot store is ever recorded.

Units are in the names: ``_MINOR`` is minor units of a currency, ``_CHARS`` characters.

Money: every amount is at most MAX_AMOUNT_MINOR = 10^15 minor units (10 trillion EUR),
and so is every product and sum made of amounts: an invoice line's amount (quantity x
unit amount, or a tiered price's sum), its discount and tax, an invoice's subtotal,
discount, tax and total, a cart's total, a subscription's amount per period, a
customer's credit balance, and an account's balance and held amount after any movement
(its floor, -overdraft_limit, is at least -MAX_AMOUNT_MINOR). A quantity is at most
MAX_QUANTITY. A command that would pass a product or sum limit is refused with the
domain error ``AmountTooLarge`` (HTTP 422, code ``amount_too_large``), nothing written.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from domain.errors import ValidationFailed

# -- money -----------------------------------------------------------------------------
# One amount, one product (quantity x unit amount), one line total, one invoice total
# and one resulting balance each stay within this. Postgres BIGINT holds 9.2 x 10^18, so
# sums of up to 9,000 such amounts still fit the read models' columns.
MAX_AMOUNT_MINOR = 10**15

# A quantity on an invoice line or a subscription item.
MAX_QUANTITY = 1_000_000

# -- text ------------------------------------------------------------------------------
# Characters, not bytes. Text never holds NUL or another control character (Postgres
# text cannot store NUL, and control characters have no place in a name or a reference);
# tab is allowed in free text (descriptions), never in names, codes or references.
MAX_NAME_CHARS = 200
MAX_PROJECT_NAME_CHARS = 100
MAX_CODE_CHARS = 40
MAX_REF_CHARS = 200
MAX_DESCRIPTION_CHARS = 500
MAX_EMAIL_CHARS = 254
MAX_LABEL_CHARS = 100
MAX_METADATA_KEYS = 20
MAX_METADATA_KEY_CHARS = 40
MAX_METADATA_VALUE_CHARS = 500
MAX_ID_CHARS = 64
# A provider's price id a Tally price maps to (provider-run subscriptions).
MAX_PROVIDER_PRICE_ID_CHARS = 100

# An idempotency key (the ``Idempotency-Key`` header, the CLI's --idempotency-key):
# printable ASCII without spaces.
MAX_IDEMPOTENCY_KEY_CHARS = 255
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]+$"

# -- what providers take ---------------------------------------------------------------
# Paddle Billing refuses texts and currencies outside these (its OpenAPI description,
# PaddleHQ/paddle-openapi v1/openapi.yaml; docs/providers.md says which Tally refuses
# when the command arrives and which it derives). A checkout line's name is the
# transaction price's ``description`` (2-500) and ``name`` (1-150) at once, so 2-150.
PADDLE_LINE_NAME_CHARS = (2, 150)
# A one-time charge on a subscription: the price's ``name`` (1-50), ``description``
# (2-200). Tally derives both from its own text (docs/providers.md).
PADDLE_CHARGE_NAME_CHARS = (1, 50)
PADDLE_CHARGE_DESCRIPTION_CHARS = (2, 200)
# The non-catalog product's ``name`` (1-200).
PADDLE_PRODUCT_NAME_CHARS = (1, 200)
# Paddle's ``currency_code`` enum: the 31 currencies it sells in.
PADDLE_CURRENCIES = frozenset((
    "USD", "EUR", "GBP", "JPY", "AUD", "CAD", "CHF", "HKD", "SGD", "SEK", "ARS", "BRL",
    "CNY", "COP", "CZK", "DKK", "HUF", "ILS", "INR", "KRW", "MXN", "NOK", "NZD", "PLN",
    "RUB", "THB", "TRY", "TWD", "UAH", "VND", "ZAR",
))  # fmt: skip
# A look-up through one of Paddle's lists (an idempotency look-up, a saved method's
# subscription) reads at most this many pages before it gives up and refuses.
PADDLE_MAX_LIST_PAGES = 20

# -- time ------------------------------------------------------------------------------
# Timestamps are timezone-aware and inside this range once converted to UTC, with room
# on both sides for a period or a retry added to them (Postgres timestamptz ends at
# 294276 AD, Python's datetime at 9999-12-31).
MIN_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIMESTAMP = datetime(9999, 1, 1, tzinfo=UTC)

# A cancel of a subscription its provider runs, once the provider accepted the call,
# waits this long for the provider's webhook; after that the same cancel asks again (the
# provider's cancel is idempotent) and the other kind may be asked (a lost delivery, a
# disabled endpoint: docs/providers.md).
MAX_PROVIDER_CANCEL_WAIT_S = 60 * 60

# -- trials ----------------------------------------------------------------------------
# A trial (a price's default, a subscription's or a checkout's) lasts at most this many
# days.
MAX_TRIAL_DAYS = 730

# -- lists ----------------------------------------------------------------------------
# At most this many items on a subscription (or its checkout, or an item change) and
# tiers on a graduated or volume price; the API and the command messages refuse more.
MAX_SUBSCRIPTION_ITEMS = 20
MAX_PRICE_TIERS = 20
# A package price (issue 13) counts usage in packages of at most this many units, and
# gives at most this many units free: usage quantities have 15 digits before the point,
# so a larger package or allowance could never be reached.
MAX_PACKAGE_UNITS = 10**12
# A subscription bills its usage early when its period's usage charges reach one of at
# most this many thresholds (progressive billing, issue 13).
MAX_USAGE_THRESHOLDS = 10

# -- coupons ---------------------------------------------------------------------------
# A repeating coupon discounts at most this many invoices.
MAX_COUPON_PERIODS = 120
# How often one coupon or promotion code may be redeemed, at most.
MAX_REDEMPTIONS = 1_000_000_000

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
# An endpoint's URL: http or https, at most MAX_URL_CHARS characters, no space and no
# control character anywhere (percent-encode them).
MAX_URL_CHARS = 2048
WEBHOOK_URL_PATTERN = r"^https?://[^\x00-\x20\x7f-\x9f]+$"

# -- billing settings ------------------------------------------------------------------
# A subscription's draft invoice waits at most this long before it is finalized; dunning
# retries at most MAX_RETRIES times, each at most MAX_RETRY_DAY days after the failure.
MAX_FINALIZE_DELAY_S = 30 * 86_400
MAX_RETRIES = 10
MAX_RETRY_DAY = 90
MAX_INVOICE_PREFIX_CHARS = 20
INVOICE_PREFIX_PATTERN = r"^[A-Za-z0-9-]+$"
# What the invoice document shows of the seller: at most MAX_ADDRESS_LINES address lines
# (each a label), a tax id (a label), payment instructions (free text) and the payment
# terms, the days from an invoice's issue to its due date.
MAX_ADDRESS_LINES = 6
MAX_PAYMENT_TERMS_DAYS = 365

# -- broker messages in (issue 12) ------------------------------------------------------
# A message from the broker's command queue is at most this many bytes (larger ones go to
# the dead-letter queue as ``payload_too_large``, unread); an order carries at most
# MAX_ORDER_ITEMS items, each one invoice line.
MAX_INBOUND_MESSAGE_BYTES = 64 * 1024
MAX_ORDER_ITEMS = 100


# The bus's last, serialized attempt at a command that kept losing races
# (commands/bus/synchronous.py) holds the event table's write lock, which every tenant's
# writes need, from its load to its append. It waits at most this long for the lock and
# holds it at most this long before appending; past either it rolls back and answers
# ``concurrent_update`` as when it gave up before. So one hot customer stalls other
# tenants' writes by at most about this much per serialized attempt.
SERIALIZED_LOCK_WAIT_MS = 100
SERIALIZED_HOLD_MS = 100

# -- the rules, as patterns and as checks ---------------------------------------------------
# The API's schemas carry these patterns (so OpenAPI states them, and pydantic's engine
# and a JSON Schema validator read them alike: plain character classes, no flags); the
# domain checks the same rule below without them. A lone surrogate (U+D800-U+DFFF) is
# refused too: UTF-8, and so Postgres, cannot store one, and pydantic never lets one in.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
FREE_TEXT_PATTERN = r"^[^\x00-\x08\x0a-\x1f\x7f-\x9f]*$"  # tab allowed
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_BUT_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")


def plain_text(text: str) -> str:
    """Outside words (a provider's message, a receiver's answer) as text every read model
    stores and every terminal prints: each control character becomes a space (Postgres
    text cannot hold a NUL, and an escape sequence would reach an operator's terminal)."""
    return _CONTROL.sub(" ", text)


# An id in a path or a command (hold, invoice line, cart line, API key): letters,
# digits and ``_ . : -``, so it needs no escaping anywhere it goes.
ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
# Codes a client chooses (plan codes; coupon and promotion codes) and price lookup keys.
PLAN_CODE_PATTERN = r"^[A-Za-z0-9_]+$"
CODE_PATTERN = r"^[A-Za-z0-9_-]+$"
LOOKUP_KEY_PATTERN = r"^[A-Za-z0-9_.-]+$"

# A timestamp as the API takes it: RFC 3339 with a timezone, years 1971 to 9997 as
# written. The years are a year inside MIN_TIMESTAMP..MAX_TIMESTAMP on each side, so no
# offset (at most 23:59) can carry an accepted time outside the range: the schema's
# pattern is then exactly what the API accepts (JSON Schema cannot compare dates).
# The date is a real one (a JSON Schema validator treats ``format`` as a note, so the
# pattern alone must refuse 02-30): 29 February only in leap years.
_YEAR = r"(19[7-9][1-9]|19[8-9]0|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-7])"
_LEAP_YEAR = (
    r"(19(7[26]|8[048]|9[26])|[2-9][0-9](0[48]|[2468][048]|[13579][26])|([2468][048]|[3579][26])00)"
)
_MONTH_DAY = (
    r"((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])"
    r"|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
    r"|02-(0[1-9]|1[0-9]|2[0-8]))"
)
TIMESTAMP_PATTERN = (
    rf"^({_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
    r"[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
    r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)


def check_text(
    value: str, field: str, max_chars: int, *, min_chars: int = 0, free_text: bool = False
) -> str:
    """``value`` if it is ``min_chars`` to ``max_chars`` characters with no control
    character (tab allowed in ``free_text``) and no lone surrogate; else
    ``ValidationFailed`` naming the field. Aggregates call it before they record."""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text", field=field)
    if not min_chars <= len(value) <= max_chars:
        raise ValidationFailed(
            f"{field} must be {min_chars} to {max_chars} characters", field=field
        )
    if value.isprintable():
        # Control characters and surrogates are all unprintable, so a printable value
        # holds none: the C check spares the regular expression (usage ingestion checks
        # two texts per property per event).
        return value
    found = (_CONTROL_BUT_TAB if free_text else _CONTROL).search(value)
    if found is not None:
        raise ValidationFailed(
            f"{field} holds a control character (U+{ord(found.group()):04X})", field=field
        )
    return value


def check_metadata(metadata: dict[str, str], field: str = "metadata") -> dict[str, str]:
    """At most MAX_METADATA_KEYS keys of 1 to MAX_METADATA_KEY_CHARS characters, values
    of at most MAX_METADATA_VALUE_CHARS, none holding a control character."""
    if not isinstance(metadata, dict) or len(metadata) > MAX_METADATA_KEYS:
        raise ValidationFailed(f"{field} holds at most {MAX_METADATA_KEYS} keys", field=field)
    for key, value in metadata.items():
        check_text(key, f"{field} key", MAX_METADATA_KEY_CHARS)
        check_text(value, f"{field}[{key}]", MAX_METADATA_VALUE_CHARS)
    return metadata


def check_nested_text(value: object, field: str, max_chars: int) -> None:
    """``check_text`` (free text) on every string inside ``value``, keys included: for a
    document of a caller's values, such as a provider call's params, that a read model
    keeps whole."""
    if isinstance(value, str):
        check_text(value, field, max_chars, free_text=True)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_nested_text(key, field, max_chars)
            check_nested_text(item, f"{field}.{key}", max_chars)
    elif isinstance(value, list | tuple):
        for item in value:
            check_nested_text(item, field, max_chars)


def later(moment: datetime, delta: timedelta, field: str) -> datetime:
    """``moment + delta``, checked like a client's timestamp: near the end of the range
    (a test clock may stand there) the sum would pass MAX_TIMESTAMP or even Python's
    datetime, and that is a refusal with nothing written, not an arithmetic error."""
    try:
        result = moment + delta
    except OverflowError:
        high = MAX_TIMESTAMP.isoformat()
        raise ValidationFailed(f"{field} would be after {high}", field=field) from None
    return check_timestamp(result, field)


def check_timestamp(value: datetime, field: str) -> datetime:
    """``value`` if it is timezone-aware and, in UTC, within MIN_TIMESTAMP..MAX_TIMESTAMP;
    else ``ValidationFailed``. A read model stores every time it is given as timestamptz,
    and adds periods and retries to it, so the range keeps room on both sides."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValidationFailed(f"{field} must be a time with a timezone", field=field)
    if not MIN_TIMESTAMP <= value <= MAX_TIMESTAMP:
        low, high = MIN_TIMESTAMP.isoformat(), MAX_TIMESTAMP.isoformat()
        raise ValidationFailed(f"{field} must be between {low} and {high}", field=field)
    return value


# -- usage (issue 13) -------------------------------------------------------------------
# A meter names at most MAX_METER_FILTERS filters (a property and the values it may
# take, at most MAX_FILTER_VALUES of them) and groups by at most MAX_GROUP_BY properties.
MAX_METER_FILTERS = 10
MAX_FILTER_VALUES = 20
MAX_GROUP_BY = 3
# A usage event's name and the names of the properties meters read.
MAX_EVENT_NAME_CHARS = 100
EVENT_NAME_PATTERN = r"^[A-Za-z0-9_.:-]+$"
PROPERTY_NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
MAX_PROPERTY_NAME_CHARS = 40
# A usage event: its transaction id (unique per project) and at most MAX_PROPERTIES
# properties, each a string of at most MAX_PROPERTY_VALUE_CHARS; numbers are decimal
# strings of at most 15 digits before the point and 9 after (so sums of a billion
# values stay exact in Postgres numeric and are shown as decimal strings).
MAX_TRANSACTION_ID_CHARS = 100
MAX_PROPERTIES = 20
MAX_PROPERTY_VALUE_CHARS = 200
DECIMAL_PATTERN = r"^-?[0-9]{1,15}(\.[0-9]{1,9})?$"
USAGE_DECIMAL_PLACES = 9
# One batch holds at most this many events; a timestamp may be at most this far ahead of
# the project's clock (clients' clocks drift).
MAX_USAGE_BATCH = 1_000
# A batch's body, in bytes, where other requests take the server's max_body_bytes (64 KiB
# by default): 1,000 events of typical size (about 200 bytes) fit in a fifth of it.
MAX_USAGE_BATCH_BYTES = 4 * 1024 * 1024
USAGE_FUTURE_SKEW_S = 300
# A provider's webhook time may run this far ahead of Tally's clock; later is not used.
PROVIDER_TIME_SKEW_S = 300
# A usage event for a period already invoiced is still billed (as an adjustment line on
# the next invoice) if it arrives within this long after the period's end, and if it is
# for the period just invoiced; later it is refused (usage_period_closed). One day, or
# the period's length if shorter (docs/usage.md, "Late events"). The project's default:
# its billing settings' usage_late_grace_s sets its own, 0 to MAX_USAGE_LATE_GRACE_S.
USAGE_LATE_GRACE_S = 86_400
MAX_USAGE_LATE_GRACE_S = 31 * 86_400

# -- customer tokens (issue 14) ----------------------------------------------------------
# A customer token (an identity provider's JWT or a customer session token) is at most this
# long, so that parsing a huge header costs nothing.
MAX_CUSTOMER_TOKEN_CHARS = 8192
# The clock skew allowed on a JWT's exp, nbf and iat, in seconds (docs/access.md).
TOKEN_SKEW_S = 60
# An identity provider's JWKS is fetched again for an unknown kid at most this often, so a
# flood of tokens naming unknown kids cannot hammer the provider; a fetched JWKS is kept
# at most JWKS_MAX_AGE_S before it is fetched again anyway.
JWKS_MIN_REFRESH_S = 30
JWKS_MAX_AGE_S = 3600
# A fetched JWKS document is at most this many bytes and keys, fetched within this time.
MAX_JWKS_BYTES = 256 * 1024
MAX_JWKS_KEYS = 50
# JWKS_TIMEOUT_S is a deadline for the whole fetch (connect, send and every byte of the
# answer), not a per-read timeout; a request that needs keys while another fetches them
# waits at most as long, then answers 503 identity_provider_unavailable.
JWKS_TIMEOUT_S = 5.0
# JWKS documents kept in memory, one per project and URL (least recently used dropped).
MAX_JWKS_KEPT = 1_000
# A JWT must carry iat, and exp - iat may be at most this long: a token stolen from a
# customer stops working within a day (docs/access.md).
MAX_JWT_LIFETIME_S = 24 * 3600
# An identity provider's issuer, audience and claim name.
MAX_ISSUER_CHARS = 500
MAX_AUDIENCE_CHARS = 500
MAX_CLAIM_NAME_CHARS = 100
CLAIM_NAME_PATTERN = r"^[A-Za-z0-9_.:/-]+$"
MAX_SHARED_SECRET_CHARS = 512
MIN_SHARED_SECRET_CHARS = 32
# A customer session lasts this long unless asked otherwise, and at most the maximum.
CUSTOMER_SESSION_DEFAULT_S = 3600
MAX_CUSTOMER_SESSION_S = 24 * 3600
MIN_CUSTOMER_SESSION_S = 60

# Prepaid credits (issue 13): domain/credits.py. Live grants per customer and currency
# (holding something, neither voided nor expired: spent grants do not count, so
# automatic top-ups never run into it), the consumption priority's range and the
# prices a grant may be limited to.
MAX_CREDIT_GRANTS = 1_000
MAX_CREDIT_PRIORITY = 100
MAX_CREDIT_GRANT_PRICES = 20

# -- operators, project keys and rate limits (issue 14) ---------------------------------
# Active (not revoked) operator keys, and active API keys of one project: authentication
# reads a key's project events past the read model (projections/api_keys.py) and the
# operator's whole event list (api/operator_auth.py), so both stay small.
MAX_OPERATOR_KEYS = 20
MAX_API_KEYS_PER_PROJECT = 50
# How long a rotated key keeps working beside its successor, at most (30 days).
MAX_KEY_OVERLAP_S = 30 * 86_400
# A rate limit is ``requests`` per moving window of ``window_s`` seconds. The window is
# whole seconds (the limits library's unit); a bucket holds at most MAX_RATE_REQUESTS
# entries (one list entry each in Redis).
MAX_RATE_REQUESTS = 100_000
MAX_RATE_WINDOW_S = 3_600
# Defaults per bucket kind, (requests, window_s); an operator may set others per project.
# The API-key default is above what one key sustains on the benchmark box (bench/README:
# about 800 deposits/s with two server workers), so only a runaway client meets it.
DEFAULT_RATE_LIMITS: dict[str, tuple[int, int]] = {
    "api_key": (1_000, 1),
    "customer": (20, 1),
    "webhook": (100, 1),
    "operator": (100, 1),
    # Customers registered on first use by a project's identity provider (each writes a
    # Customer), per project: api/customer_auth.py.
    "registration": (10, 1),
    # Fixed, per source address (review findings 3 and 7): webhook deliveries whose
    # signature fails, per project, provider and address; and refused credentials.
    "webhook_signature": (30, 60),
    "auth_failure": (30, 60),
}
