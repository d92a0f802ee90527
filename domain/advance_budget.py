"""The step budget of a test clock's advance, counted before the advance changes anything.

An advance does every step its subscriptions have due by the target (an expiry, the
announcement of a trial's end and the end, a resumption, each renewal, a cancellation at
period end), each with its invoice.
A clock moved a century ahead would run for minutes, so one advance takes at most
``MAX_ADVANCE_STEPS`` of them. ``steps_due_by`` counts a subscription's steps from its
state and its schedule's arithmetic, taking none, so the advance is refused before its
first step rather than part-way (``commands/clock_advance.py``).

The count follows ``Subscription.next_due_at`` and ``process_next`` as if nothing else
happened on the way. Within one advance something else can only take steps away: the
invoice work in between finalizes drafts and asks for charges, and a charge that fails
at once (no payment method) makes the subscription past_due (it keeps renewing),
canceled or unpaid (it stops). Nothing in an advance pays an invoice, which is what
makes an unpaid subscription renew again. So the count is the most the advance can do,
and exactly what it does when no charge fails on the way.

The count covers the whole move to the target, not the part of it one pass makes before
a provider call pauses the advance (``api/advance.py``): what the caller asked for is
what is refused or done.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from domain.errors import ValidationFailed
from domain.periods import Schedule
from domain.subscription_states import (
    ACTIVE,
    INCOMPLETE,
    INCOMPLETE_EXPIRY,
    PAST_DUE,
    PAUSED,
    TRIALING,
)
from domain.subscriptions import Subscription

# A year of daily renewals for a few hundred subscriptions fits; a clock moved a century
# ahead answers an error instead of running for minutes.
MAX_ADVANCE_STEPS = 200_000


def check_step_budget(subscriptions: Iterable[Subscription], until: datetime) -> int:
    """The number of steps the subscriptions have due by ``until``; ``ValidationFailed``
    if it is more than ``MAX_ADVANCE_STEPS``, or if a period would end past the last
    time Tally takes (``Schedule.boundary``), as the advance itself would find."""
    total = 0
    for sub in subscriptions:
        total += steps_due_by(sub, until)
        if total > MAX_ADVANCE_STEPS:
            raise ValidationFailed(
                f"advancing this far would take more than {MAX_ADVANCE_STEPS} steps; "
                "advance in smaller moves"
            )
    return total


def steps_due_by(sub: Subscription, until: datetime) -> int:
    """How many steps ``sub`` has due by ``until`` (see the module's docstring)."""
    if sub.status == INCOMPLETE:
        return 1 if sub.started_at + INCOMPLETE_EXPIRY <= until else 0
    if sub.status == TRIALING:
        notice = sub.trial_notice_at()
        announced = 1 if notice is not None and notice <= until else 0
        if sub.trial_end is None or sub.trial_end > until:
            return announced
        # The trial's end activates it in the period its schedule starts with.
        renewals = _renewals_by(sub.schedule, sub.period_index, sub.cancel_at_period_end, until)
        return announced + 1 + renewals
    if sub.status == PAUSED:
        if sub.resume_at is None or sub.resume_at > until:
            return 0
        # Resuming starts a new schedule, anchored at the resumption (Subscription.resume).
        resumed = Schedule(sub.resume_at, sub.interval, sub.interval_count)
        return 1 + _renewals_by(resumed, 0, sub.cancel_at_period_end, until)
    if sub.status in (ACTIVE, PAST_DUE):
        return _renewals_by(sub.schedule, sub.period_index, sub.cancel_at_period_end, until)
    return 0  # canceled, unpaid, expired: nothing more is due


def _renewals_by(schedule: Schedule, index: int, canceling: bool, until: datetime) -> int:
    """Renewals due by ``until`` in period ``index``: one at each boundary after it up to
    ``until``, or a single cancellation at the first when the subscription cancels at its
    period end."""
    if schedule.boundary(index + 1) > until:
        return 0
    if canceling:
        return 1
    # The last renewal by ``until`` starts the period that contains it.
    return schedule.index_at(until) - index
