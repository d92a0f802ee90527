"""Customer tokens, identity providers, operator and API keys and rate limits (issue
14; the values; ``domain.limits`` re-exports them with the rest)."""

from __future__ import annotations

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
# A server worker keeps an API key's row, once looked up, this long, and at most this
# many of them (api/key_lookups.py). Only the write routes that run their command through
# the bus take a key from it, and the append that commits their command confirms the key
# under the event table's lock, so a revocation still counts from its commit; what the
# row also carries, the project's rate limits (and mode), is at most this old.
KEY_CACHE_S = 1.0
MAX_CACHED_KEYS = 10_000
