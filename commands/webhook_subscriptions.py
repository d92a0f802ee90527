"""What provider events about provider-run subscriptions and provider customers change.

Part of the translation of ``ApplyWebhookEvent`` (``commands/webhook_effects.py``), with
the same rules: check first, then change through the handlers the API uses, and only
from the state each change expects, so a repeated or late event changes nothing.
"""

from __future__ import annotations

from typing import Any

from adapters.providers.base import EventType
from commands import messages as m
from commands import subscriptions
from commands.bus import Context
from commands.unit_of_work import UnitOfWork
from commands.webhook_lookups import Step, activate, named
from domain.customers import Customer
from domain.subscription_states import CANCELED
from domain.subscriptions import Subscription
from domain.webhooks import WebhookEvent

# -- subscriptions run by the provider, customers -------------------------------------


def subscription_changed(
    uow: UnitOfWork, ctx: Context, event: WebhookEvent, kind: EventType
) -> list[Step]:
    sub: Subscription | None = named(uow, ctx, Subscription, event, "subscription")
    if sub is None:
        return []
    status = str(event.data.get("status") or "")
    if kind is EventType.SUBSCRIPTION_CANCELED and sub.status != CANCELED:

        def cancel() -> dict[str, Any]:
            subscriptions.cancel(uow, m.CancelSubscription(subscription_id=sub.id), ctx)
            return {"action": "subscription_canceled", "subscription_id": str(sub.id)}

        return [cancel]
    if status in ("active", "trialing"):
        return [lambda: activate(uow, ctx, sub)]
    return []


def customer_linked(uow: UnitOfWork, ctx: Context, event: WebhookEvent) -> list[Step]:
    customer: Customer | None = named(uow, ctx, Customer, event, "customer")
    reference = str(event.data.get("customer_ref") or event.object_ref or "")
    if customer is None or not reference or customer.provider_refs.get(event.provider) == reference:
        return []

    def link() -> dict[str, Any]:
        customer.link_provider(event.provider, reference)
        return {"action": "customer_linked", "customer_id": str(customer.id)}

    return [link]
