"""What payment providers take and how long Tally waits for them (the values;
``domain.limits`` re-exports them with the rest; ``domain/provider_limits.py`` checks a
call against them)."""

from __future__ import annotations

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

# -- their webhooks ---------------------------------------------------------------------
# A cancel of a subscription its provider runs, once the provider accepted the call,
# waits this long for the provider's webhook; after that the same cancel asks again (the
# provider's cancel is idempotent) and the other kind may be asked (a lost delivery, a
# disabled endpoint: docs/providers.md).
MAX_PROVIDER_CANCEL_WAIT_S = 60 * 60
# A provider's webhook time may run this far ahead of Tally's clock; later is not used.
PROVIDER_TIME_SKEW_S = 300
