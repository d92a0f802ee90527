"""The ``ts=<unix seconds>;h1=<hex HMAC-SHA256 of "ts:body">`` webhook signature scheme.

Paddle Billing signs its webhooks this way (header ``Paddle-Signature``); the stub
provider signs the same way with its own secret, so its deliveries take the same verify
path as a real provider's. Several ``h1`` values may be present while a secret is being
rotated; any one matching is enough.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from commands.provider_errors import InvalidSignature

# Timestamps slightly ahead of our clock are accepted (clock skew between machines), but
# not by more than this; otherwise a captured signature could be replayed for longer.
FUTURE_SKEW_S = 60


def ts_h1_signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b":" + body, hashlib.sha256)
    return f"ts={timestamp};h1={mac.hexdigest()}"


def verify_ts_h1(
    *,
    provider: str,
    header: str | None,
    body: bytes,
    secret: str,
    now: datetime,
    tolerance_s: int,
) -> int:
    """Check the signature and its age; return the signed timestamp or raise."""
    if not header:
        raise InvalidSignature("the signature header is missing", provider=provider)
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "ts" and value.isdigit():
            timestamp = int(value)
        elif key == "h1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidSignature("the signature header has no ts or h1", provider=provider)
    expected = ts_h1_signature(secret, timestamp, body).split("h1=", 1)[1]
    # compare_digest on every candidate, without stopping early, so the time taken says
    # nothing about how close a forged signature came.
    matches = [hmac.compare_digest(expected, candidate) for candidate in signatures]
    if not any(matches):
        raise InvalidSignature("the signature does not match the body", provider=provider)
    age_s = now.timestamp() - timestamp
    if age_s > tolerance_s or age_s < -FUTURE_SKEW_S:
        raise InvalidSignature(
            f"the signature timestamp is {int(age_s)} s old, outside the {tolerance_s} s window",
            provider=provider,
        )
    return timestamp
