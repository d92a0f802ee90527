"""Times in providers' payloads, as Tally's timezone-aware ``datetime``.

Paddle and YooKassa send RFC 3339 text (``2024-01-31T12:00:00Z``); Stripe sends Unix
seconds (``unix_time``). A value that is not such a time, has no timezone, or lies
outside ``MIN_TIMESTAMP..MAX_TIMESTAMP`` (``domain/limits/``) is no time: ``None``,
never an error, since a notification's time is informational, and a signed payload's
far-off date must not reach an event that a read model cannot store or read back.
"""

from __future__ import annotations

from datetime import UTC, datetime

from domain.errors import ValidationFailed
from domain.limits import check_timestamp


def _in_range(value: datetime) -> datetime | None:
    try:
        return check_timestamp(value, "occurred_at")
    except (ValidationFailed, OverflowError):
        return None


def iso_time(value: object) -> datetime | None:
    """``value`` read as RFC 3339 text (``Z`` or an offset), or None."""
    if not isinstance(value, str):
        return None
    try:
        return _in_range(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def unix_time(value: object) -> datetime | None:
    """``value`` read as whole Unix seconds (UTC), or None."""
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    try:
        return _in_range(datetime.fromtimestamp(value, UTC))
    except (OverflowError, OSError, ValueError):
        return None
