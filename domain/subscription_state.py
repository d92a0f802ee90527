"""What a subscription is, as its rules read it: its fields, what follows from them (its
periods, when it is next due, the trial-end notice, the summary) and the check of an
item change (``preview_change``). ``Subscription`` (``domain.subscriptions``) extends it
with the commands and the events; its statuses and transition table are in
``domain.subscription_states``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.copies import plain_copy
from domain.errors import InvalidTransition, ValidationFailed
from domain.periods import Schedule
from domain.proration import prorate_change
from domain.subscription_states import (
    ACTIVE,
    CANCELED,
    EXPIRED,
    INCOMPLETE,
    INCOMPLETE_EXPIRY,
    PAST_DUE,
    PAUSED,
    PRORATION_MODES,
    TRIALING,
    UNPAID,
    Item,
    check_items,
    check_renewal_amount,
)

# A trial's end is announced this long before it (``TrialEndAnnounced``), as Stripe sends
# customer.subscription.trial_will_end three days ahead; a shorter trial is announced as
# soon as the scheduler (or its test clock) sees it.
TRIAL_END_NOTICE = timedelta(days=3)


class SubscriptionState:
    """The subscription's fields (set by its events) and what follows from them."""

    # The aggregate's own (``eventsourcing``'s): named here for the summary.
    if TYPE_CHECKING:

        @property
        def id(self) -> UUID: ...

    project_id: UUID
    customer_id: UUID
    currency: str
    items: list[Item]
    anchor: datetime
    interval: str
    interval_count: int
    status: str
    trial_end: datetime | None
    trial_end_announced: datetime | None
    started_at: datetime
    test_clock_id: UUID | None
    resume_at: datetime | None
    paused_at: datetime | None
    period_index: int
    cancel_at_period_end: bool
    canceled_at: datetime | None
    pending_items: list[Item] | None
    proration_lines: list[dict[str, Any]]
    run_by: str
    provider: str
    provider_ref: str

    # -- periods -----------------------------------------------------------------------

    @property
    def schedule(self) -> Schedule:
        return Schedule(self.anchor, self.interval, self.interval_count)

    @property
    def current_period(self) -> tuple[datetime, datetime]:
        return self.schedule.period(self.period_index)

    @property
    def period_amount(self) -> int:
        return sum(int(item["amount"]) for item in self.items)

    @property
    def offers_trial(self) -> bool:
        """An incomplete subscription that waits for a payment method, not a payment."""
        return self.status == INCOMPLETE and self.trial_end is not None

    # -- due work ---------------------------------------------------------------------

    def next_due_at(self) -> datetime | None:
        """When this subscription next needs the scheduler, or None (never, for one its
        provider runs: the provider's webhooks bring its changes)."""
        if self.run_by != "tally":
            return None
        if self.status == INCOMPLETE:
            return self.started_at + INCOMPLETE_EXPIRY
        if self.status == TRIALING:
            return self.trial_end
        if self.status in (ACTIVE, PAST_DUE):
            return self.current_period[1]
        if self.status == PAUSED:
            return self.resume_at
        return None

    def next_step_at(self) -> datetime | None:
        """When this subscription next has something to do: ``next_due_at``, or before it
        the announcement of its trial's end (``trial_notice_at``), which changes no status
        and so is not the ``next_due_at`` the API shows and the read model keeps (the
        scheduler finds it by the trial's end: ``projections.subscriptions``)."""
        notice, due = self.trial_notice_at(), self.next_due_at()
        if notice is None or due is None:
            return due
        return min(notice, due)

    def trial_notice_at(self) -> datetime | None:
        """When the coming end of the trial is due to be announced; None when it is not
        trialing or the end it has now was announced (an extended trial is again)."""
        if self.status != TRIALING or self.trial_end is None:
            return None
        if self.trial_end_announced == self.trial_end:
            return None
        return self.trial_end - TRIAL_END_NOTICE

    # -- changes and the summary -------------------------------------------------------

    def preview_change(
        self, items: list[Item], now: datetime, proration: str = "prorate"
    ) -> tuple[list[Item], list[dict[str, Any]]]:
        """What ``change_items`` would record, recording nothing: the checked items and
        the proration lines the change adds. Raises whatever ``change_items`` would."""
        if proration not in PRORATION_MODES:
            raise ValidationFailed(f"proration must be one of {', '.join(PRORATION_MODES)}")
        if self.status in (CANCELED, UNPAID, EXPIRED):
            raise InvalidTransition(
                f"cannot change a subscription that is {self.status}",
                state=self.status,
                trigger="change_items",
            )
        checked = check_items(items)
        lines: list[dict[str, Any]] = []
        if proration == "prorate" and self.status != TRIALING:
            start, end = self.current_period
            lines = [
                {"description": line.description, "amount": line.amount, "at": now.isoformat()}
                for line in prorate_change(
                    self.period_amount, sum(i["amount"] for i in checked), start, end, now
                )
            ]
        check_renewal_amount(checked, [*self.proration_lines, *lines])
        return checked, lines

    def summary(self) -> dict[str, Any]:
        """The subscription as the API shows it, on the write side and in its read model."""
        start, end = self.current_period
        due = self.next_due_at()
        return {
            "id": str(self.id),
            "customer_id": str(self.customer_id),
            "status": self.status,
            "currency": self.currency,
            "items": plain_copy(self.items),
            "interval": self.interval,
            "interval_count": self.interval_count,
            "current_period_start": start.isoformat(),
            "current_period_end": end.isoformat(),
            "trial_end": self.trial_end.isoformat() if self.trial_end else None,
            "cancel_at_period_end": self.cancel_at_period_end,
            "canceled_at": self.canceled_at.isoformat() if self.canceled_at else None,
            "resume_at": self.resume_at.isoformat() if self.resume_at else None,
            "pending_items": plain_copy(self.pending_items),
            "proration_lines": plain_copy(self.proration_lines),
            "next_due_at": due.isoformat() if due else None,
            "test_clock_id": str(self.test_clock_id) if self.test_clock_id else None,
            "run_by": self.run_by,
            "provider_subscription": self.provider_ref or None,
        }
