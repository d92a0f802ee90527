"""What a subscription's owner and its payments do to it between its start and its end:
a trial extended or started, a cancel (now or at the period's end) and its undo, a pause
and a resume, the first payment's activation, and the moves dunning makes (past due,
unpaid, active again). Each checks first; ``Subscription`` (``domain.subscriptions``)
extends it and records the events: the ``eventsourcing`` library defines event classes
only from an aggregate's own body.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from domain.errors import InvalidTransition, TimeNotInFuture, ValidationFailed
from domain.limits import check_timestamp, later
from domain.subscription_state import SubscriptionState
from domain.subscription_states import CANCELED, INCOMPLETE, PAUSED, TRIALING


class SubscriptionLifecycle(SubscriptionState):
    """The lifecycle commands of a subscription (``Subscription`` records their events)."""

    if TYPE_CHECKING:  # ``Subscription``'s, which records the events

        def _to(self, trigger: str) -> str: ...
        def _trial_extended(self, trial_end: datetime) -> None: ...
        def _cancel_scheduled(self) -> None: ...
        def _cancel_undone(self) -> None: ...
        def _canceled(self, status: str, at: datetime) -> None: ...
        def _paused(
            self, status: str, resume_at: datetime | None, paused_at: datetime | None
        ) -> None: ...
        def _resumed(self, status: str, anchor: datetime) -> None: ...
        def _activated(self, status: str) -> None: ...
        def _trial_started(self, status: str, trial_end: datetime) -> None: ...
        def _status_changed(self, status: str, trigger: str) -> None: ...

    def extend_trial(self, new_end: datetime) -> None:
        if self.status != TRIALING or self.trial_end is None:
            raise InvalidTransition(
                f"cannot extend the trial of a subscription that is {self.status}",
                state=self.status,
                trigger="extend_trial",
            )
        check_timestamp(new_end, "trial_end")
        if new_end <= self.trial_end:
            raise ValidationFailed("a trial can only be extended to a later end")
        self._trial_extended(trial_end=new_end)

    def cancel(self, now: datetime, *, at_period_end: bool = False) -> None:
        status = self.check_cancel(at_period_end=at_period_end)
        if at_period_end and self.status != TRIALING:
            self._cancel_scheduled()
        else:
            self._canceled(status=status, at=now)

    def check_cancel(self, *, at_period_end: bool) -> str:
        """Where a cancel takes it (``InvalidTransition`` if it cannot be canceled so),
        for Tally's own cancel and for one asked of its provider. A trial's cancel at
        the period end is a cancel now. A paused subscription is canceled only now: its
        period does not run while it is paused (a paused Stripe subscription does not
        advance to new billing periods), so an end to cancel at would never come."""
        status = self._to("cancel")
        if not at_period_end or self.status == TRIALING:
            return status
        if self.status == PAUSED:
            raise InvalidTransition(
                "a paused subscription has no period running to end: cancel it now, "
                "or resume it first",
                state=self.status,
                trigger="cancel",
            )
        if self.cancel_at_period_end:
            raise InvalidTransition(
                "this subscription already cancels at its period end",
                state=self.status,
                trigger="cancel",
            )
        return status

    def undo_cancel(self) -> None:
        self.check_undo_cancel()
        self._cancel_undone()

    def check_undo_cancel(self) -> None:
        if not self.cancel_at_period_end or self.status == CANCELED:
            raise InvalidTransition(
                f"nothing to undo: the subscription is {self.status} and not set to cancel",
                state=self.status,
                trigger="undo_cancel",
            )

    def pause(self, now: datetime, resume_at: datetime | None = None) -> None:
        status = self._to("pause")
        check_timestamp(now, "paused_at")
        if resume_at is not None:
            check_timestamp(resume_at, "resume_at")
        if resume_at is not None and resume_at <= now:
            raise TimeNotInFuture("resume_at must be in the future")
        self._paused(status=status, resume_at=resume_at, paused_at=now)

    def resume(self, now: datetime) -> None:
        """Resume a paused subscription. Paused time is not billed: a new period starts
        now, anchored at the moment of resumption, which becomes the anchor of every
        later period: so it is a sane time, and not before the pause."""
        status = self._to("resume")
        check_timestamp(now, "resumed_at")
        if self.paused_at is not None and now < self.paused_at:
            raise ValidationFailed(
                f"a resume at {now.isoformat()} precedes the pause at {self.paused_at.isoformat()}",
                field="resumed_at",
            )
        self._resumed(status=status, anchor=now)

    def activate(self) -> None:
        """The first payment of an incomplete subscription arrived."""
        if self.status != INCOMPLETE or self.offers_trial:
            waits = " and waits for a payment method to start its trial"
            raise InvalidTransition(
                f"cannot activate a subscription that is {self.status}"
                + (waits if self.offers_trial else ""),
                state=self.status,
                trigger="activate",
            )
        self._activated(status=self._to("activate"))

    def start_trial(self, now: datetime) -> None:
        """The checkout of an incomplete subscription with a trial completed (a payment
        method was saved): the trial starts now and lasts as long as it was offered."""
        if not self.offers_trial or self.trial_end is None:
            raise InvalidTransition(
                f"cannot start a trial of a subscription that is {self.status}"
                + (" without one" if self.status == INCOMPLETE else ""),
                state=self.status,
                trigger="start_trial",
            )
        trial_end = later(now, self.trial_end - self.started_at, "trial_end")
        self._trial_started(status=self._to("start_trial"), trial_end=trial_end)

    def mark_past_due(self) -> None:
        self._status_changed(status=self._to("mark_past_due"), trigger="mark_past_due")

    def mark_unpaid(self) -> None:
        self._status_changed(status=self._to("mark_unpaid"), trigger="mark_unpaid")

    def reactivate(self) -> None:
        self._status_changed(status=self._to("activate"), trigger="activate")
