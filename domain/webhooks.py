"""The WebhookEvent aggregate: one verified provider event, recorded once, applied once.

Its id derives from ``(project, provider, provider event id)``, so a second delivery of
the same event (a redelivery, a replay, eight concurrent posts) tries to create an
aggregate that exists and its save conflicts: the event store's unique key is the
deduplication. The raw payload is kept for audit.

The webhook processor applies a received event after it is committed. Applying it
records ``Applied`` (with what it did) or ``Ignored`` in the same transaction as its
effects, so an event is applied exactly once. An event that arrives before what it
needs (a refund before its payment, an invoice payment before the invoice is final)
is ``Parked`` and retried with backoff; it gives up (``Failed``) after
``MAX_ATTEMPTS``.

    received --apply--> applied      received|parked --park--> parked
    received|parked --ignore--> ignored      received|parked --give_up--> failed
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.backoff import doubling_delay_s
from domain.base import TallyAggregate
from domain.copies import plain_copy
from domain.errors import DomainError
from domain.state_machine import destination, transition_table

NAMESPACE = UUID("0b6d7c1e-52a4-4b8f-9f3e-7a1c2d3e4f50")

RECEIVED, APPLIED, IGNORED, PARKED, FAILED = "received", "applied", "ignored", "parked", "failed"
SETTLED = (APPLIED, IGNORED, FAILED)

MACHINE = transition_table(
    states=[RECEIVED, APPLIED, IGNORED, PARKED, FAILED],
    transitions=[
        ("apply", [RECEIVED, PARKED], APPLIED),
        ("ignore", [RECEIVED, PARKED], IGNORED),
        ("park", [RECEIVED, PARKED], PARKED),
        ("give_up", [RECEIVED, PARKED], FAILED),
    ],
    initial=RECEIVED,
)

MAX_ATTEMPTS = 12
FIRST_RETRY_S = 2.0
LONGEST_RETRY_S = 15 * 60.0


def retry_delay_s(attempts: int) -> float:
    """Backoff after the ``attempts``-th failed try: 2 s, doubling, at most 15 minutes."""
    return doubling_delay_s(attempts, FIRST_RETRY_S, LONGEST_RETRY_S)


class WebhookEvent(TallyAggregate):
    TOPIC = "tally:WebhookEvent"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:WebhookEvent.Created"

    @staticmethod
    def create_id(project_id: UUID, provider: str, event_id: str) -> UUID:
        return uuid5(NAMESPACE, f"webhook:{project_id}:{provider}:{event_id}")

    @event("Received", topic="tally:WebhookEvent.Received")
    def __init__(
        self,
        id: UUID,
        project_id: UUID,
        provider: str,
        event_id: str,
        type: str,
        provider_type: str,
        object_ref: str,
        data: dict[str, Any],
        raw: dict[str, Any],
    ) -> None:
        self.project_id = project_id
        self.provider = provider
        self.event_id = event_id
        self.type = type
        self.provider_type = provider_type
        self.object_ref = object_ref
        self.data = data
        self.raw = raw
        self.status = RECEIVED
        self.attempts = 0
        self.retry_at: datetime | None = None
        self.reason = ""
        self.effects: list[dict[str, Any]] = []

    @classmethod
    def receive(cls, project_id: UUID, fields: dict[str, Any], raw: dict[str, Any]) -> WebhookEvent:
        event_id = str(fields["event_id"])
        return cls(
            id=cls.create_id(project_id, str(fields["provider"]), event_id),
            project_id=project_id,
            provider=str(fields["provider"]),
            event_id=event_id,
            type=str(fields["type"]),
            provider_type=str(fields["provider_type"]),
            object_ref=str(fields.get("object_ref") or ""),
            data=fields,
            raw=raw,
        )

    @property
    def references(self) -> dict[str, str]:
        refs = self.data.get("references") or {}
        return {str(k): str(v) for k, v in refs.items()}

    @property
    def settled(self) -> bool:
        return self.status in SETTLED

    def mark_applied(self, effects: list[dict[str, Any]]) -> None:
        state = destination(MACHINE, self.status, "apply", what="webhook event")
        self._applied(state=state, effects=effects)

    @event("Applied", topic="tally:WebhookEvent.Applied")
    def _applied(self, state: str, effects: list[dict[str, Any]]) -> None:
        self.status = state
        self.effects = effects
        self.retry_at = None

    def mark_ignored(self, reason: str) -> None:
        state = destination(MACHINE, self.status, "ignore", what="webhook event")
        self._ignored(state=state, reason=reason)

    @event("Ignored", topic="tally:WebhookEvent.Ignored")
    def _ignored(self, state: str, reason: str) -> None:
        self.status = state
        self.reason = reason
        self.retry_at = None

    def park(self, reason: str, now: datetime) -> None:
        """Not applicable yet: try again later, or give up after MAX_ATTEMPTS."""
        attempts = self.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            state = destination(MACHINE, self.status, "give_up", what="webhook event")
            self._parked(state=state, reason=reason, attempts=attempts, retry_at=None)
            return
        state = destination(MACHINE, self.status, "park", what="webhook event")
        retry_at = now + timedelta(seconds=retry_delay_s(attempts))
        self._parked(state=state, reason=reason, attempts=attempts, retry_at=retry_at)

    @event("Parked", topic="tally:WebhookEvent.Parked")
    def _parked(self, state: str, reason: str, attempts: int, retry_at: datetime | None) -> None:
        self.status = state
        self.reason = reason
        self.attempts = attempts
        self.retry_at = retry_at

    def summary(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "provider": self.provider,
            "event_id": self.event_id,
            "type": self.type,
            "provider_type": self.provider_type,
            "object_ref": self.object_ref,
            "status": self.status,
            "attempts": self.attempts,
            "retry_at": self.retry_at.isoformat() if self.retry_at else None,
            "reason": self.reason,
            "effects": plain_copy(self.effects),
            "references": plain_copy(self.references),
        }


class NotYetApplicable(DomainError):
    """What a provider event is about is not there yet (or not in the state it needs):
    the event is parked and tried again later."""

    code = "not_yet_applicable"


class AmountMismatch(DomainError):
    """A provider reports a payment of another amount or currency than Tally asked for."""

    code = "provider_amount_mismatch"
