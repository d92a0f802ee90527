"""The Subscription aggregate: items on a recurring schedule, moved through a transition table.

Its states and their transition table live in ``domain.subscription_states``; see
docs/subscriptions.md for the diagram. Its fields and what follows from them (periods,
due times, the trial-end notice, the summary, the check of an item change) are
``domain.subscription_state.SubscriptionState``, which it extends; what the scheduler
does when something is due is ``domain.subscription_due``, the guards of a subscription
its provider runs ``domain.subscription_provider_run``, its trials, cancels, pauses,
resumes and status moves ``domain.subscription_lifecycle``; here are its start, its item
changes and every event (the library defines event classes only from an aggregate's own
body).

Items carry the per-period amount their price gives for their quantity, so renewals and
proration need no price look-ups. Periods come from ``domain.periods.Schedule``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import event
from eventsourcing.utils import register_topic

from domain.base import TallyAggregate
from domain.errors import (
    ValidationFailed,
)
from domain.limits import MAX_TRIAL_DAYS, later
from domain.periods import Schedule
from domain.provider_subscription_params import CANCEL, CANCEL_AT_PERIOD_END, UNDO_CANCEL
from domain.state_machine import destination
from domain.subscription_due import SubscriptionDue
from domain.subscription_lifecycle import SubscriptionLifecycle
from domain.subscription_provider_run import SubscriptionProviderRun
from domain.subscription_states import (
    INCOMPLETE,
    MACHINE,
    Item,
    check_items,
)


class Subscription(TallyAggregate, SubscriptionDue, SubscriptionProviderRun, SubscriptionLifecycle):
    TOPIC = "tally:Subscription"
    # The trial end whose coming end was announced (``TrialEndAnnounced``). A class
    # default, so subscriptions recorded before the announcement existed load with none.
    trial_end_announced: datetime | None = None
    # When it was last paused (``Paused`` version 2); a class default, so subscriptions
    # paused before it was recorded load with none, and their resume is not compared.
    paused_at: datetime | None = None

    @event("Created", topic="tally:Subscription.Created")
    def __init__(
        self,
        project_id: UUID,
        customer_id: UUID,
        currency: str,
        items: list[Item],
        anchor: datetime,
        interval: str,
        interval_count: int,
        status: str,
        trial_end: datetime | None,
        started_at: datetime,
        test_clock_id: UUID | None,
    ) -> None:
        self.project_id = project_id
        self.customer_id = customer_id
        self.currency = currency
        self.items = items
        self.anchor = anchor
        self.interval = interval
        self.interval_count = interval_count
        self.status = status
        self.trial_end = trial_end
        self.started_at = started_at
        self.test_clock_id = test_clock_id
        self.resume_at: datetime | None = None
        self.period_index = 0
        self.cancel_at_period_end = False
        self.canceled_at: datetime | None = None
        self.pending_items: list[Item] | None = None
        self.proration_lines: list[dict[str, Any]] = []

    @classmethod
    def start(
        cls,
        *,
        project_id: UUID,
        customer_id: UUID,
        currency: str,
        items: list[Item],
        interval: str,
        interval_count: int,
        now: datetime,
        trial_days: int = 0,
        incomplete: bool = False,
        test_clock_id: UUID | None = None,
    ) -> Subscription:
        """Start a subscription. ``incomplete`` leaves it waiting for the customer's
        checkout (it expires after ``INCOMPLETE_EXPIRY`` unless it completes): for its
        first payment (``activate``), or, with ``trial_days``, for a payment method
        (``start_trial``). Until then an offered trial's ``trial_end`` is provisional:
        the trial lasts ``trial_days`` from when the checkout completes."""
        checked = check_items(items)
        Schedule(now, interval, interval_count)  # validates the schedule
        if not 0 <= trial_days <= MAX_TRIAL_DAYS:
            raise ValidationFailed(f"trial_days must be 0 to {MAX_TRIAL_DAYS}")
        trial_end = later(now, timedelta(days=trial_days), "trial_end") if trial_days > 0 else None
        # An incomplete subscription waits for its checkout; the others start now, after
        # their trial if they have one.
        status, anchor = INCOMPLETE, now
        if not incomplete:
            trigger = "start_trial" if trial_days > 0 else "activate"
            status = destination(MACHINE, INCOMPLETE, trigger, what="subscription")
            anchor = trial_end or now
        return cls(
            project_id=project_id,
            customer_id=customer_id,
            currency=currency,
            items=checked,
            anchor=anchor,
            interval=interval,
            interval_count=interval_count,
            status=status,
            trial_end=trial_end,
            started_at=now,
            test_clock_id=test_clock_id,
        )

    def _to(self, trigger: str) -> str:
        return destination(MACHINE, self.status, trigger, what="subscription")

    def next_status(self, trigger: str) -> str:
        """Where ``trigger`` would take it; ``InvalidTransition`` if nowhere."""
        return self._to(trigger)

    # -- lifecycle ---------------------------------------------------------------------

    @event("Renewed", topic="tally:Subscription.Renewed")
    def _renewed(
        self,
        period_index: int,
        period_start: datetime,
        period_end: datetime,
        items: list[Item],
        amount_due: int,
        proration_lines: list[dict[str, Any]],
    ) -> None:
        # The period's start and end, its items, the amount due for them and the
        # proration lines collected during the last period are what invoicing needs.
        self.period_index = period_index
        self.items = items
        self.pending_items = None
        self.proration_lines = []

    @event("TrialEnded", topic="tally:Subscription.TrialEnded")
    def _trial_ended(self, status: str) -> None:
        self.status = status

    @event("TrialEndAnnounced", topic="tally:Subscription.TrialEndAnnounced")
    def _trial_end_announced(self, trial_end: datetime) -> None:
        self.trial_end_announced = trial_end

    @event("TrialExtended", topic="tally:Subscription.TrialExtended")
    def _trial_extended(self, trial_end: datetime) -> None:
        self.trial_end = trial_end
        self.anchor = trial_end

    @event("CancelScheduled", topic="tally:Subscription.CancelScheduled")
    def _cancel_scheduled(self) -> None:
        self.cancel_at_period_end = True
        self._cancel_answered()  # a provider's webhook showed the cancel it was asked

    @event("CancelUndone", topic="tally:Subscription.CancelUndone")
    def _cancel_undone(self) -> None:
        self.cancel_at_period_end = False
        self._cancel_answered()

    @event("Canceled", topic="tally:Subscription.Canceled")
    def _canceled(self, status: str, at: datetime) -> None:
        self.status = status
        self.canceled_at = at
        self._cancel_answered()

    class Paused(TallyAggregate.Event):
        """Version 2 keeps ``paused_at``, which a resume may not precede; a pause
        recorded before has none."""

        TOPIC = "tally:Subscription.Paused"
        class_version = 2

        status: str
        resume_at: datetime | None
        paused_at: datetime | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["paused_at"] = None

    @event(Paused)
    def _paused(self, status: str, resume_at: datetime | None, paused_at: datetime | None) -> None:
        self.status = status
        self.resume_at = resume_at
        # A pause recorded before version 2 (upcast to none) leaves the state as it was
        # stored then, so read-model rows written before replay equal.
        if paused_at is not None or self.paused_at is not None:
            self.paused_at = paused_at

    @event("Resumed", topic="tally:Subscription.Resumed")
    def _resumed(self, status: str, anchor: datetime) -> None:
        self.status = status
        self.anchor = anchor
        self.period_index = 0
        self.resume_at = None

    @event("TrialStarted", topic="tally:Subscription.TrialStarted")
    def _trial_started(self, status: str, trial_end: datetime) -> None:
        self.status = status
        self.trial_end = trial_end
        self.anchor = trial_end

    @event("Activated", topic="tally:Subscription.Activated")
    def _activated(self, status: str) -> None:
        self.status = status

    @event("StatusChanged", topic="tally:Subscription.StatusChanged")
    def _status_changed(self, status: str, trigger: str) -> None:
        self.status = status

    # -- run by the provider: the events (domain/subscription_provider_run.py guards) --

    @event("HandedToProvider", topic="tally:Subscription.HandedToProvider")
    def _handed_to_provider(self, provider: str) -> None:
        self.run_by = "provider"
        self.provider = provider

    @event("ProviderAsked", topic="tally:Subscription.ProviderAsked")
    def _provider_asked(self, number: int, action: str) -> None:
        self.provider_requests = number
        if action in (CANCEL, CANCEL_AT_PERIOD_END):
            self.cancel_asked = number
            self.cancel_asked_at_period_end = action == CANCEL_AT_PERIOD_END
        elif action == UNDO_CANCEL:
            self._cancel_answered()

    @event("ProviderLinked", topic="tally:Subscription.ProviderLinked")
    def _provider_linked(self, provider_ref: str) -> None:
        self.provider_ref = provider_ref

    @event("PeriodMirrored", topic="tally:Subscription.PeriodMirrored")
    def _period_mirrored(self, items: list[Item], anchor: datetime) -> None:
        self.items = items
        self.anchor = anchor
        self.period_index = 0

    # -- changes -----------------------------------------------------------------------

    def change_items(self, items: list[Item], now: datetime, proration: str = "prorate") -> None:
        """Replace the items. ``prorate`` credits the unused time of the old items and
        charges the rest of the period for the new ones now; ``none`` swaps them with no
        lines; ``period_end`` keeps the old items until the next renewal."""
        checked, lines = self.preview_change(items, now, proration)
        if proration == "period_end":
            self._change_scheduled(items=checked)
        else:
            self._items_changed(items=checked, proration_lines=lines)

    @event("ChangeScheduled", topic="tally:Subscription.ChangeScheduled")
    def _change_scheduled(self, items: list[Item]) -> None:
        self.pending_items = items

    @event("ItemsChanged", topic="tally:Subscription.ItemsChanged")
    def _items_changed(self, items: list[Item], proration_lines: list[dict[str, Any]]) -> None:
        self.items = items
        self.proration_lines = [*self.proration_lines, *proration_lines]


# The event was `Subscription.Started` until issue 17 named it after its command,
# CreateSubscription (a subscription checkout records it too), as DESIGN.md asks
# (events past tense, commands imperative). Stored events never change: the old topic
# still reads, as this class.
register_topic("tally:Subscription.Started", Subscription.Created)
