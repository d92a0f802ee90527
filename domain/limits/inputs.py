"""What a client may send: amounts, text, times, lists and the settings and messages
built of them (the values; ``domain.limits`` re-exports them with the rest).

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

from datetime import UTC, datetime

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

# -- time ------------------------------------------------------------------------------
# Timestamps are timezone-aware and inside this range once converted to UTC, with room
# on both sides for a period or a retry added to them (Postgres timestamptz ends at
# 294276 AD, Python's datetime at 9999-12-31).
MIN_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIMESTAMP = datetime(9999, 1, 1, tzinfo=UTC)

# -- trials ----------------------------------------------------------------------------
# A trial (a price's default, a subscription's or a checkout's) lasts at most this many
# days.
MAX_TRIAL_DAYS = 730

# -- lists ----------------------------------------------------------------------------
# At most this many items on a subscription (or its checkout, or an item change) and
# tiers on a graduated or volume price; the API and the command messages refuse more.
MAX_SUBSCRIPTION_ITEMS = 20
MAX_PRICE_TIERS = 20
# Features a product (a plan) grants.
MAX_FEATURES = 100
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

# -- webhook endpoints -----------------------------------------------------------------
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
# A usage event for a period already invoiced is still billed (as an adjustment line on
# the next invoice) if it arrives within this long after the period's end, and if it is
# for the period just invoiced; later it is refused (usage_period_closed). One day, or
# the period's length if shorter (docs/usage.md, "Late events"). The project's default:
# its billing settings' usage_late_grace_s sets its own, 0 to MAX_USAGE_LATE_GRACE_S.
USAGE_LATE_GRACE_S = 86_400
MAX_USAGE_LATE_GRACE_S = 31 * 86_400

# Prepaid credits (issue 13): domain/credits.py. Live grants per customer and currency
# (holding something, neither voided nor expired: spent grants do not count, so
# automatic top-ups never run into it), the consumption priority's range and the
# prices a grant may be limited to.
MAX_CREDIT_GRANTS = 1_000
MAX_CREDIT_PRIORITY = 100
MAX_CREDIT_GRANT_PRICES = 20
