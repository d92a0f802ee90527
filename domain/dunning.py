"""Dunning: collecting an invoice whose payment was declined.

One ``InvoiceDunning`` aggregate per invoice (deterministic id), made by the first
declined payment and saved with the invoice from then on. It counts the attempts, knows
when the next retry is due (``next_attempt_at``: the due work the scheduler and test
clocks drive) and records a ``DunningReminder`` at each step for the notification
service.

The project's ``retry_days`` count from the *first* failure: with ``[3, 5, 7]`` the
retries are due 3, 5 and 7 days after it. Only attempts the schedule made (``retry``)
move it on; a manual attempt in between is recorded but leaves the next retry where it
was. When no retry is left, the invoice's dunning is exhausted.

Steps (for reminders): ``payment_failed`` (the first failure), ``retry_failed``,
``retries_exhausted`` (no retry left), and ``payment_recovered`` (paid after failures).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.base import TallyAggregate


@dataclass(frozen=True)
class Failure:
    first_failed_at: datetime
    retries_done: int
    next_attempt_at: datetime | None
    step: str


def plan_failure(  # the invoice's dunning state and the attempt's facts
    *,
    first_failed_at: datetime | None,
    retries_done: int,
    next_attempt_at: datetime | None,
    at: datetime,
    retry_days: list[int],
    retry: bool,
) -> Failure:
    first = first_failed_at or at
    retries = retries_done + (1 if retry and first_failed_at else 0)
    nxt = next_attempt_at
    if first_failed_at is None or retry:
        nxt = first + timedelta(days=retry_days[retries]) if retries < len(retry_days) else None
    step = "payment_failed" if first_failed_at is None else "retry_failed"
    if nxt is None:
        step = "retries_exhausted"
    return Failure(first, retries, nxt, step)


class InvoiceDunning(TallyAggregate):
    """Events: ``Started``, ``PaymentFailed``, ``Recovered``, ``Stopped``,
    ``DunningReminder`` (``step``, ``attempt``, ``amount_remaining``,
    ``next_attempt_at``, ``at``: what a notification needs)."""

    TOPIC = "tally:InvoiceDunning"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:InvoiceDunning.Created"

    @staticmethod
    def create_id(invoice_id: UUID) -> UUID:
        return uuid5(invoice_id, "dunning")

    @event("Started", topic="tally:InvoiceDunning.Started")
    def __init__(
        self, project_id: UUID, invoice_id: UUID, customer_id: UUID, subscription_id: UUID | None
    ) -> None:
        self.project_id = project_id
        self.invoice_id = invoice_id
        self.customer_id = customer_id
        self.subscription_id = subscription_id
        self.attempt_count = 0
        self.retries_done = 0
        self.first_failed_at: datetime | None = None
        self.next_attempt_at: datetime | None = None
        self.provider = ""
        self.last_failure = ""
        self.state = "collecting"  # collecting | recovered | exhausted | stopped

    def record_failure(  # the attempt's facts
        self,
        *,
        provider: str,
        reason: str,
        at: datetime,
        retry_days: list[int],
        retry: bool,
        amount_remaining: int,
    ) -> str:
        """Record a declined attempt and plan the next retry; returns the step."""
        plan = plan_failure(
            first_failed_at=self.first_failed_at,
            retries_done=self.retries_done,
            next_attempt_at=self.next_attempt_at,
            at=at,
            retry_days=retry_days,
            retry=retry,
        )
        self._payment_failed(
            provider=provider,
            reason=reason[:500],
            at=at,
            first_failed_at=plan.first_failed_at,
            retries_done=plan.retries_done,
            next_attempt_at=plan.next_attempt_at,
        )
        self._reminder(plan.step, amount_remaining, at)
        return plan.step

    @event("PaymentFailed", topic="tally:InvoiceDunning.PaymentFailed")
    def _payment_failed(
        self,
        provider: str,
        reason: str,
        at: datetime,
        first_failed_at: datetime,
        retries_done: int,
        next_attempt_at: datetime | None,
    ) -> None:
        self.attempt_count += 1
        self.provider = provider
        self.last_failure = reason
        self.first_failed_at = first_failed_at
        self.retries_done = retries_done
        self.next_attempt_at = next_attempt_at
        self.state = "collecting" if next_attempt_at is not None else "exhausted"

    def recover(self, at: datetime) -> None:
        """The invoice was paid after failures."""
        if self.state in ("collecting", "exhausted"):
            self._recovered(at=at)
            self._reminder("payment_recovered", 0, at)

    @event("Recovered", topic="tally:InvoiceDunning.Recovered")
    def _recovered(self, at: datetime) -> None:
        self.state = "recovered"
        self.next_attempt_at = None

    def stop(self, reason: str) -> None:
        """No more retries: the invoice was voided or marked uncollectible."""
        if self.next_attempt_at is not None:
            self._stopped(reason=reason)

    @event("Stopped", topic="tally:InvoiceDunning.Stopped")
    def _stopped(self, reason: str) -> None:
        self.state = "stopped"
        self.next_attempt_at = None

    def _reminder(self, step: str, amount_remaining: int, at: datetime) -> None:
        self._dunning_reminder(
            step=step,
            attempt=self.attempt_count,
            amount_remaining=amount_remaining,
            next_attempt_at=self.next_attempt_at,
            at=at,
        )

    @event("DunningReminder", topic="tally:InvoiceDunning.DunningReminder")
    def _dunning_reminder(
        self,
        step: str,
        attempt: int,
        amount_remaining: int,
        next_attempt_at: datetime | None,
        at: datetime,
    ) -> None:
        """For the notification service only; changes nothing."""

    def summary(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "attempt_count": self.attempt_count,
            "next_payment_attempt_at": (
                self.next_attempt_at.isoformat() if self.next_attempt_at else None
            ),
            "last_payment_failure": self.last_failure or None,
            "provider": self.provider or None,
        }
