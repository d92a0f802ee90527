"""SubscriptionMirror: the newest provider event seen about one provider-run subscription.

Stripe and Paddle deliver ``subscription.updated`` events in any order, and each one
carries the whole subscription as it was when the event happened. Mirroring the status
of whichever arrived last would let an old ``past_due`` undo a newer recovery. So the
translation asks this aggregate first: an event older than the newest one it has seen
for the subscription is recorded (its webhook event says so) but changes nothing.

Events are ordered by the provider's own time (``occurred_at``: Stripe's ``created``,
Paddle's ``occurred_at``). Two events of the same second are both newer than anything
before that second, and whichever is applied second wins; the subscription's transition
table still keeps every step legal. An event without a time cannot be ordered and is
treated as the newest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.base import TallyAggregate

NAMESPACE = UUID("9d1f6c3a-4b2e-4f7a-8c5d-2e3f4a5b6c7d")


class SubscriptionMirror(TallyAggregate):
    TOPIC = "tally:SubscriptionMirror"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:SubscriptionMirror.Created"

    @staticmethod
    def create_id(project_id: UUID, subscription_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"subscription_mirror:{project_id}:{subscription_id}")

    @event("Started", topic="tally:SubscriptionMirror.Started")
    def __init__(self, id: UUID, project_id: UUID, subscription_id: UUID, provider: str) -> None:
        self.project_id = project_id
        self.subscription_id = subscription_id
        self.provider = provider
        self.newest_at: datetime | None = None
        self.event_id = ""
        self.status = ""
        self.cancel_at_period_end: bool | None = None

    @classmethod
    def start(cls, project_id: UUID, subscription_id: UUID, provider: str) -> SubscriptionMirror:
        return cls(
            id=cls.create_id(project_id, subscription_id),
            project_id=project_id,
            subscription_id=subscription_id,
            provider=provider,
        )

    def is_newest(self, occurred_at: datetime | None) -> bool:
        """Whether an event of this time is at least as new as every one seen so far."""
        return occurred_at is None or self.newest_at is None or occurred_at >= self.newest_at

    def observe(
        self,
        event_id: str,
        occurred_at: datetime | None,
        status: str,
        cancel_at_period_end: bool | None,
    ) -> bool:
        """Record the event if it is the newest; False (nothing recorded) if older."""
        if not self.is_newest(occurred_at) or event_id == self.event_id:
            return False
        self._observed(
            event_id=event_id,
            occurred_at=occurred_at or self.newest_at,
            status=status,
            cancel_at_period_end=cancel_at_period_end,
        )
        return True

    @event("Observed", topic="tally:SubscriptionMirror.Observed")
    def _observed(
        self,
        event_id: str,
        occurred_at: datetime | None,
        status: str,
        cancel_at_period_end: bool | None,
    ) -> None:
        self.event_id = event_id
        self.newest_at = occurred_at
        self.status = status
        self.cancel_at_period_end = cancel_at_period_end

    def summary(self) -> dict[str, Any]:
        return {
            "subscription_id": str(self.subscription_id),
            "provider": self.provider,
            "newest_at": self.newest_at.isoformat() if self.newest_at else None,
            "event_id": self.event_id,
            "status": self.status,
            "cancel_at_period_end": self.cancel_at_period_end,
        }
