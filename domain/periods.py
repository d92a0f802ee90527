"""Billing periods: calendar-correct, anchored, never overlapping and never leaving a gap.

Boundary ``n`` of a schedule is always computed from the anchor (``anchor + n * interval``
with ``dateutil.relativedelta``), never by adding an interval to the previous boundary.
Chaining would drift: Jan 31 + 1 month = Feb 28, and Feb 28 + 1 month = Mar 28. From the
anchor, the boundaries are Jan 31, Feb 28 (29 in leap years), Mar 31, Apr 30, ...
Period ``n`` is ``[boundary(n), boundary(n + 1))``, so consecutive periods share an edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta

from domain.errors import ValidationFailed
from domain.limits import MAX_TIMESTAMP

INTERVALS = ("day", "week", "month", "year")
MAX_INTERVAL_COUNT = 365


@dataclass(frozen=True, slots=True)
class Schedule:
    anchor: datetime
    interval: str
    interval_count: int = 1

    def __post_init__(self) -> None:
        if self.anchor.tzinfo is None:
            raise ValidationFailed("a billing anchor needs a timezone")
        if self.interval not in INTERVALS:
            raise ValidationFailed(f"interval must be one of {', '.join(INTERVALS)}")
        if not 1 <= self.interval_count <= MAX_INTERVAL_COUNT:
            raise ValidationFailed(f"interval_count must be 1 to {MAX_INTERVAL_COUNT}")

    def boundary(self, n: int) -> datetime:
        """Boundary ``n``; ``ValidationFailed`` if it would pass MAX_TIMESTAMP
        (``domain/limits/``), where Python's datetime ends soon after: a test clock near
        the end of the range with a long interval gets there, and a refusal leaves the
        command with nothing written instead of an error from the arithmetic. (A boundary
        before the anchor may precede MIN_TIMESTAMP: ``index_at`` looks back that way.)"""
        try:
            moment = self._step(n * self.interval_count)
        except (OverflowError, ValueError):
            moment = None
        if moment is None or moment > MAX_TIMESTAMP:
            raise ValidationFailed(
                f"a billing period would end after {MAX_TIMESTAMP:%Y-%m-%d} (UTC), the "
                "last time Tally takes",
                anchor=self.anchor.isoformat(),
                period=n,
            )
        return moment

    def _step(self, steps: int) -> datetime:
        if self.interval == "day":
            return self.anchor + timedelta(days=steps)
        if self.interval == "week":
            return self.anchor + timedelta(weeks=steps)
        if self.interval == "month":
            return self.anchor + relativedelta(months=steps)
        return self.anchor + relativedelta(years=steps)

    def period(self, n: int) -> tuple[datetime, datetime]:
        return self.boundary(n), self.boundary(n + 1)

    def index_at(self, moment: datetime) -> int:
        """The index of the period that contains ``moment`` (which may precede the anchor)."""
        # Estimate from the average length, then correct: boundaries are monotonic, so a
        # few steps either way always land on the right period.
        average = (self.boundary(1) - self.boundary(0)).total_seconds()
        n = int((moment - self.anchor).total_seconds() // average)
        while self.boundary(n) > moment:
            n -= 1
        while self.boundary(n + 1) <= moment:
            n += 1
        return n

    def period_at(self, moment: datetime) -> tuple[datetime, datetime]:
        return self.period(self.index_at(moment))
