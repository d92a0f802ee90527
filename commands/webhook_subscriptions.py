"""What provider events about provider-run subscriptions and provider customers change.

Part of the translation of ``ApplyWebhookEvent`` (``commands/webhook_effects.py``), with
the same rules: check first, then change through the handlers the API uses, and only
from the state each change expects, so a repeated or late event changes nothing. A
subscription's status is mirrored only from the newest event about it
(``domain/subscription_mirrors.py``), so delivery order does not matter either.
``trial_will_end`` announces the trial's end (``commands/webhook_notices.py``); Tally
still ends trials on its own clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from commands import messages as m
from commands import subscriptions
from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from commands.now import now_for
from commands.provider_events import EventType
from commands.provider_run_mirror import mirror_plan
from commands.webhook_lookups import Step, activate, named
from domain.customers import Customer
from domain.errors import ValidationFailed
from domain.limits import PROVIDER_TIME_SKEW_S, check_timestamp
from domain.subscription_mirrors import SubscriptionMirror
from domain.subscription_states import (
    ACTIVE,
    CANCELED,
    INCOMPLETE,
    PAST_DUE,
    PAUSED,
    TRIALING,
    UNPAID,
)
from domain.subscriptions import Subscription
from domain.webhooks import NotYetApplicable, WebhookEvent

# -- subscriptions run by the provider ------------------------------------------------

# What each provider status asks of the Tally subscription, by its current status: the
# subscription's own triggers, in order (``unpaid`` from active goes through past_due, as
# at the provider). A status missing from a row changes nothing from there: either the
# subscription is there already, or the step is not legal (a canceled one stays so).
# Incomplete subscriptions are not active yet: a status that presumes they are waits
# (``NotYetApplicable``) for the event that activates them, which may come later.
PLANS: dict[str, dict[str, tuple[str, ...]]] = {
    "active": {
        INCOMPLETE: ("activate",),
        TRIALING: ("reactivate",),
        PAST_DUE: ("reactivate",),
        PAUSED: ("resume",),
    },
    # Paused at the provider (Paddle's subscription.paused, Stripe's paused status): the
    # transition table pauses only an active subscription, and resumes it to active.
    "paused": {ACTIVE: ("pause",)},
    "trialing": {INCOMPLETE: ("activate",)},
    "past_due": {TRIALING: ("mark_past_due",), ACTIVE: ("mark_past_due",)},
    "unpaid": {
        TRIALING: ("mark_past_due", "mark_unpaid"),
        ACTIVE: ("mark_past_due", "mark_unpaid"),
        PAST_DUE: ("mark_unpaid",),
    },
    # Canceled at the provider while paused (Paddle and Stripe both allow it): canceled
    # now, billing nothing, as a paused subscription canceled through the API.
    "canceled": {
        TRIALING: ("cancel",),
        ACTIVE: ("cancel",),
        PAST_DUE: ("cancel",),
        PAUSED: ("cancel",),
    },
}
AFTER = {"activate": ACTIVE, "reactivate": ACTIVE, "mark_past_due": PAST_DUE}
AFTER |= {"mark_unpaid": UNPAID, "cancel": CANCELED, "pause": PAUSED, "resume": ACTIVE}
# A cancel at the period end is scheduled (or undone) only on a subscription with a
# period running; a trialing one would be canceled at once by Tally's own rule.
SCHEDULABLE = (ACTIVE, PAST_DUE)


def subscription_changed(
    uow: UnitOfWork, ctx: Context, event: WebhookEvent, kind: EventType
) -> list[Step]:
    """Mirror a provider-run subscription's status: past_due, unpaid, canceled, active
    again, and a cancel scheduled for (or taken back from) the period end. Only the
    newest event counts (``SubscriptionMirror``); an older one changes nothing."""
    sub: Subscription | None = named(uow, ctx, Subscription, event, "subscription")
    if sub is None:
        return []
    status = "canceled" if kind is EventType.SUBSCRIPTION_CANCELED else event.data.get("status")
    status = str(status or "")
    ending = event.data.get("cancel_at_period_end")
    ending = ending if isinstance(ending, bool) else None
    occurred = _when(event.data.get("occurred_at"))
    mirror_id = SubscriptionMirror.create_id(ctx.project_id, sub.id)
    mirror = uow.find(SubscriptionMirror, mirror_id)
    if mirror is not None and not mirror.is_newest(occurred):
        newer = mirror.event_id

        def outdated() -> dict[str, Any]:
            return {"action": "outdated", "subscription_id": str(sub.id), "newer_event": newer}

        return [outdated]
    plan = PLANS.get(status, {}).get(sub.status, ())
    if not plan and sub.status == INCOMPLETE and status in ("past_due", "unpaid", "canceled"):
        raise NotYetApplicable(
            f"subscription {sub.id} is not active yet; the provider says {status}",
            id=str(sub.id),
        )
    after = AFTER[plan[-1]] if plan else sub.status
    schedule = None
    if ending is not None and after in SCHEDULABLE and ending != sub.cancel_at_period_end:
        schedule = ending

    def observe() -> None:
        found = uow.find(SubscriptionMirror, mirror_id)
        if found is None:
            found = SubscriptionMirror.start(ctx.project_id, sub.id, event.provider)
            uow.add(found)
        found.observe(event.event_id, occurred, status, ending)

    def change() -> dict[str, Any] | None:
        observe()
        # A subscription the provider runs: its id, items and period too.
        mirrored = mirror_plan(uow, ctx, sub, event)
        if not plan and schedule is None:
            return mirrored
        for trigger in plan:
            _step(uow, ctx, sub, trigger, _period_start(event) or occurred, occurred)
        if schedule is True:
            cancel = m.CancelSubscription(subscription_id=sub.id, at_period_end=True)
            subscriptions.cancel(uow, cancel, ctx)
        elif schedule is False:
            undo = m.UndoCancelSubscription(subscription_id=sub.id)
            subscriptions.undo_cancel(uow, undo, ctx)
        return {
            "action": "subscription_mirrored",
            "subscription_id": str(sub.id),
            "status": sub.status,
            "cancel_at_period_end": sub.cancel_at_period_end,
            **({"plan_mirrored": True} if mirrored else {}),
        }

    return [change]


def _step(
    uow: UnitOfWork,
    ctx: Context,
    sub: Subscription,
    trigger: str,
    at: datetime | None,
    occurred: datetime | None,
) -> None:
    """One trigger, through the API's handler where there is one. ``at``: when the
    provider's new period starts (else the event's time), where a resume starts it;
    ``occurred``: the event's time, when a pause happened."""
    if trigger == "activate":
        activate(uow, ctx, sub)
    elif trigger == "cancel":
        subscriptions.cancel(uow, m.CancelSubscription(subscription_id=sub.id), ctx)
    elif trigger == "reactivate":
        sub.reactivate()
    elif trigger == "pause":
        # No resume time: the provider resumes it, and its webhook says so.
        sub.pause(_provider_time(uow, ctx, sub, occurred))
    elif trigger == "resume":
        # The webhook's period start is untrusted: a sane time or the event's, and never
        # before the pause, since it anchors every later period.
        at = _provider_time(uow, ctx, sub, at)
        sub.resume(max(at, sub.paused_at) if sub.paused_at is not None else at)
    elif trigger == "mark_past_due":
        sub.mark_past_due()
    else:
        sub.mark_unpaid()


def _provider_time(
    uow: UnitOfWork, ctx: Context, sub: Subscription, at: datetime | None
) -> datetime:
    """When the provider says something happened, where Tally can use it: a subscription
    on a test clock lives at the clock's time, the provider's time is the wall clock's;
    a time that is missing, naive, out of range or ahead of the command's own by more than
    ``PROVIDER_TIME_SKEW_S`` (a resume there would anchor every later period) is the
    command's own."""
    now = now_for(uow, ctx, sub.test_clock_id)
    if sub.test_clock_id is None and at is not None and _sane(at):
        return at if at <= now + timedelta(seconds=PROVIDER_TIME_SKEW_S) else now
    return now


def _sane(at: datetime) -> bool:
    try:
        check_timestamp(at, "at")
    except ValidationFailed:
        return False
    return True


def _period_start(event: WebhookEvent) -> datetime | None:
    return _when(event.data.get("period_start"))


def _when(value: object) -> datetime | None:
    """The event's time as the webhook route stored it (ISO text), or None."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


# -- customers ---------------------------------------------------------------------


def customer_linked(uow: UnitOfWork, ctx: Context, event: WebhookEvent) -> list[Step]:
    customer: Customer | None = named(uow, ctx, Customer, event, "customer")
    reference = str(event.data.get("customer_ref") or event.object_ref or "")
    # The first link wins, as when the outbox links the customer it created
    # (``commands/provider_customers.py``): a customer already linked at this provider
    # keeps its reference, whichever of the webhook and the outbox's answer came first.
    if customer is None or not reference or customer.provider_refs.get(event.provider):
        return []

    def link() -> dict[str, Any]:
        customer.link_provider(event.provider, reference)
        return {"action": "customer_linked", "customer_id": str(customer.id)}

    return [link]
