"""Test clocks: a frozen time for a test-mode project, moved only when told to.

Customers attached to a clock, and their subscriptions, read time from the clock instead
of the system clock. Advancing it does every renewal, trial end and cancellation that
falls in between, in time order (``commands/clock_advance.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event
from eventsourcing.utils import register_topic

from domain.base import TallyAggregate
from domain.errors import ClockBackwards, LimitReached
from domain.limits import MAX_LABEL_CHARS, check_text, check_timestamp

# Bounds the work of one advance: a year of daily renewals for a few hundred customers.
MAX_SUBSCRIPTIONS_PER_CLOCK = 1000


class TestClock(TallyAggregate):
    __test__ = False  # not a pytest test class, whatever its name says
    TOPIC = "tally:TestClock"

    @event("Created", topic="tally:TestClock.Created")
    def __init__(self, project_id: UUID, name: str, frozen_time: datetime) -> None:
        self.project_id = project_id
        self.name = name
        self.frozen_time = frozen_time
        self.subscription_ids: list[UUID] = []

    @classmethod
    def create(cls, project_id: UUID, name: str, frozen_time: datetime) -> TestClock:
        check_text(name, "name", MAX_LABEL_CHARS)
        check_timestamp(frozen_time, "frozen_time")
        return cls(project_id=project_id, name=name, frozen_time=frozen_time)

    def now(self) -> datetime:
        return self.frozen_time

    def check_advance(self, to: datetime) -> None:
        check_timestamp(to, "to")
        if to < self.frozen_time:
            raise ClockBackwards(
                f"test clock is at {self.frozen_time.isoformat()}; it cannot go back to "
                f"{to.isoformat()}",
                frozen_time=self.frozen_time.isoformat(),
            )

    def advance(self, to: datetime) -> None:
        self.check_advance(to)
        self._advanced(frozen_time=to)

    @event("Advanced", topic="tally:TestClock.Advanced")
    def _advanced(self, frozen_time: datetime) -> None:
        self.frozen_time = frozen_time

    def attach_subscription(self, subscription_id: UUID) -> None:
        if len(self.subscription_ids) >= MAX_SUBSCRIPTIONS_PER_CLOCK:
            raise LimitReached(
                f"a test clock drives at most {MAX_SUBSCRIPTIONS_PER_CLOCK} subscriptions",
                limit=MAX_SUBSCRIPTIONS_PER_CLOCK,
            )
        if subscription_id not in self.subscription_ids:
            self._subscription_attached(subscription_id=subscription_id)

    @event("SubscriptionAttached", topic="tally:TestClock.SubscriptionAttached")
    def _subscription_attached(self, subscription_id: UUID) -> None:
        self.subscription_ids.append(subscription_id)

    def summary(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "frozen_time": self.frozen_time.isoformat(),
            "subscriptions": len(self.subscription_ids),
        }


# The event was `TestClock.Started` until issue 17 named it after its command, CreateTestClock,
# as DESIGN.md asks (events past tense, commands imperative). Stored events never
# change: the old topic still reads, as this class.
register_topic("tally:TestClock.Started", TestClock.Created)
