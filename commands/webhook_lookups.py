"""Lookups shared by the translations of provider events: the Tally objects an event's
``tally_*`` references name. A named object that is missing is "not yet" (the event is
parked until it exists), never an error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from commands import messages as m
from commands import subscriptions
from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from domain.subscription_states import INCOMPLETE
from domain.subscriptions import Subscription
from domain.webhooks import NotYetApplicable, WebhookEvent

Step = Callable[[], dict[str, Any] | None]


def reference(event: WebhookEvent, name: str) -> UUID | None:
    value = event.references.get(f"tally_{name}")
    try:
        return UUID(value) if value else None
    except ValueError:
        return None


def named(uow: UnitOfWork, ctx: Context, cls: type[Any], event: WebhookEvent, name: str) -> Any:
    ref = reference(event, name)
    if ref is None:
        return None
    found = uow.find(cls, ref)
    if found is None or found.project_id != ctx.project_id:
        raise NotYetApplicable(f"{name} {ref} is not known (yet)", id=str(ref))
    return found


def activate(uow: UnitOfWork, ctx: Context, sub: Subscription) -> dict[str, Any] | None:
    # Paying the first invoice may have activated it already (invoicing's after_paid).
    if sub.status != INCOMPLETE:
        return None
    # A checkout with a trial saved a payment method: the trial starts (not activation).
    action = "trial_started" if sub.offers_trial else "subscription_activated"
    subscriptions.activate(uow, m.ActivateSubscription(subscription_id=sub.id), ctx)
    return {"action": action, "subscription_id": str(sub.id)}
