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
MAX_CODE_CHARS = 40
MAX_REF_CHARS = 200
MAX_DESCRIPTION_CHARS = 500
MAX_EMAIL_CHARS = 254
MAX_LABEL_CHARS = 100
MAX_METADATA_KEYS = 20
MAX_METADATA_KEY_CHARS = 40
MAX_METADATA_VALUE_CHARS = 500
MAX_ID_CHARS = 64

# -- time ------------------------------------------------------------------------------
# Timestamps are timezone-aware and inside this range once converted to UTC, with room
# on both sides for a period or a retry added to them (Postgres timestamptz ends at
# 294276 AD, Python's datetime at 9999-12-31).
MIN_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIMESTAMP = datetime(9999, 1, 1, tzinfo=UTC)
