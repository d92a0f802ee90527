"""Times in providers' payloads, as Tally's timezone-aware ``datetime``.

Paddle and YooKassa send RFC 3339 text (``2024-01-31T12:00:00Z``); Stripe sends Unix
seconds and converts its own (``stripe_events``). A value that is not such text is no
time: ``None``, never an error, since a notification's time is informational.
"""

from __future__ import annotations

from datetime import datetime


def iso_time(value: object) -> datetime | None:
    """``value`` read as RFC 3339 text (``Z`` or an offset), or None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
