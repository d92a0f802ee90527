"""What a subscription Tally runs does when something is due (the scheduler's work):
expiry of an incomplete one, the trial-end notice and the trial's end, renewals (several
if the scheduler was away), cancellation at the period end, the end of a pause.
``Subscription`` (``domain.subscriptions``) extends it and records the events: the
``eventsourcing`` library defines event classes only from an aggregate's own body.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain.subscription_state import SubscriptionState
from domain.subscription_states import (
    ACTIVE,
    INCOMPLETE,
    INCOMPLETE_EXPIRY,
    MAX_DUE_STEPS,
    PAST_DUE,
    PAUSED,
    TRIALING,
    Item,
)


class SubscriptionDue(SubscriptionState):
    """The due work of a subscription (``Subscription`` records its events)."""

    if TYPE_CHECKING:  # ``Subscription``'s, which records the events

        def _to(self, trigger: str) -> str: ...
        def resume(self, now: datetime) -> None: ...
        def _status_changed(self, status: str, trigger: str) -> None: ...
        def _canceled(self, status: str, at: datetime) -> None: ...
        def _trial_ended(self, status: str) -> None: ...
        def _trial_end_announced(self, trial_end: datetime) -> None: ...
        def _renewed(
            self,
            period_index: int,
            period_start: datetime,
            period_end: datetime,
            items: list[Item],
            amount_due: int,
            proration_lines: list[dict[str, Any]],
        ) -> None: ...

    def process_due(self, now: datetime) -> list[str]:
        """Do everything that is due at ``now``, in time order, one step per event:
        expiry, trial end, renewals (several if the scheduler was away), cancellation at
        period end, the end of a pause. Returns what happened; nothing if nothing was due,
        so running it twice, or after a crash, never renews a period twice."""
        done: list[str] = []
        for _ in range(MAX_DUE_STEPS):
            due = self.next_step_at()
            if due is None or due > now:
                break
            step = self.process_next(due)
            if step is None:
                break
            done.append(step)
        return done

    def process_next(self, due: datetime) -> str | None:
        if self.status == INCOMPLETE:
            return "expired" if self.expire(due) else None
        if self.status == TRIALING:
            if self.announce_trial_end(due):
                return "trial_end_announced"
            return "trial_ended" if self.end_trial(due) else None
        if self.status == PAUSED:
            self.resume(due)
            return "resumed"
        canceling = self.cancel_at_period_end
        if self.renew(due):
            return "canceled" if canceling else "renewed"
        return None

    def renew(self, now: datetime) -> bool:
        """Start the next period if the current one has ended. Returns False (nothing
        recorded) when it is not yet due, so a scheduler may call it any number of times."""
        if self.status not in (ACTIVE, PAST_DUE) or now < self.current_period[1]:
            return False
        if self.cancel_at_period_end:
            self._canceled(status=self._to("cancel"), at=self.current_period[1])
            return True
        items = self.pending_items if self.pending_items is not None else self.items
        start, end = self.schedule.period(self.period_index + 1)
        self._renewed(
            period_index=self.period_index + 1,
            period_start=start,
            period_end=end,
            items=items,
            amount_due=sum(int(i["amount"]) for i in items),
            proration_lines=self.proration_lines,
        )
        return True

    def end_trial(self, now: datetime) -> bool:
        if self.status != TRIALING or self.trial_end is None or now < self.trial_end:
            return False
        self._trial_ended(status=self._to("activate"))
        return True

    def announce_trial_end(self, now: datetime) -> bool:
        """Record that the trial ends at ``trial_end``, when the notice is due at ``now``."""
        notice, end = self.trial_notice_at(), self.trial_end
        if notice is None or end is None or now < notice:
            return False
        self._trial_end_announced(trial_end=end)
        return True

    def expire(self, now: datetime) -> bool:
        if self.status != INCOMPLETE or now < self.started_at + INCOMPLETE_EXPIRY:
            return False
        self._status_changed(status=self._to("expire"), trigger="expire")
        return True
