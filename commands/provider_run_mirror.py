"""What the provider says about a subscription it runs, mirrored into the Tally one.

Two sources, both applied only through the subscription's own guarded methods:

* the outbox's answers to its calls (``after_call``): a created subscription's
  provider id is linked; a fetched invoice is mirrored (``commands/provider_invoices``);
* the provider's subscription webhooks (``mirror_plan``, beside the status mirror of
  ``commands/webhook_subscriptions.py``, and under its newest-event rule): the
  subscription's provider id, its items (the provider's prices read back as Tally's
  through ``ProviderPriceLink``) and the start of its current period.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from commands.provider_invoices import mirror_invoice
from domain.catalog import Price
from domain.provider_calls import ProviderCall
from domain.provider_subscription_params import CreateSubscriptionParams, GetInvoiceParams
from domain.subscription_runners import PROVIDER, ProviderPriceLink
from domain.subscription_states import Item
from domain.subscriptions import Subscription
from domain.webhooks import WebhookEvent

OPERATIONS = ("create_subscription", "change_subscription", "get_invoice")


def after_call(
    uow: UnitOfWork, ctx: Context, call: ProviderCall, result: dict[str, Any] | None
) -> dict[str, Any]:
    """What a provider-run subscription's call answered (``result``; None when it
    failed) changes: a create's answer (the provider's id; a refusal expires the
    subscription, which never started) and a fetched invoice. A failed change changes
    nothing: the subscription stays as the provider has it."""
    params = call.request_params
    if result is None:
        if not isinstance(params, CreateSubscriptionParams):
            return {}
        sub = uow.get(Subscription, UUID(params.subscription_id), ctx.project_id)
        sub.provider_refused()
        return {"subscription": sub.summary()}
    if isinstance(params, CreateSubscriptionParams):
        sub = uow.get(Subscription, UUID(params.subscription_id), ctx.project_id)
        sub.link_provider(str(result.get("subscription_ref") or ""))
        return {"subscription": sub.summary()}
    if isinstance(params, GetInvoiceParams):
        return mirror_invoice(uow, ctx, call, result)
    return {}


def _items(uow: UnitOfWork, ctx: Context, sub: Subscription, listed: object) -> list[Item] | None:
    """The provider's items as Tally's, or None if one of its prices maps to no Tally
    price of this project (then the items are left as they are)."""
    if not isinstance(listed, list) or not listed:
        return None
    items: list[Item] = []
    for entry in listed:
        price_ref, quantity = str(entry.get("price_ref") or ""), int(entry.get("quantity") or 1)
        link_id = ProviderPriceLink.create_id(ctx.project_id, sub.provider, price_ref)
        link = uow.find(ProviderPriceLink, link_id)
        if link is None or link.project_id != ctx.project_id:
            return None
        price = uow.get(Price, link.price_id, ctx.project_id)
        if (price.provider_price_ids or {}).get(sub.provider) != price_ref:
            return None  # the price was mapped elsewhere since
        amount = 0 if price.metered else price.amount_for(quantity)
        items.append({"price_id": str(price.id), "quantity": quantity, "amount": amount})
    return items


def mirror_plan(
    uow: UnitOfWork, ctx: Context, sub: Subscription, event: WebhookEvent
) -> dict[str, Any] | None:
    """Link the provider's id and mirror items and period from a subscription event
    (the caller has checked it is the newest about the subscription)."""
    if sub.run_by != PROVIDER or event.provider != sub.provider:
        return None
    changed = sub.link_provider(str(event.data.get("subscription_ref") or event.object_ref))
    items = _items(uow, ctx, sub, event.data.get("items"))
    start = event.data.get("period_start")
    period_start = datetime.fromisoformat(start) if isinstance(start, str) and start else None
    if items is not None or period_start is not None:
        changed = (
            sub.mirror_period(items or sub.items, period_start or sub.current_period[0]) or changed
        )
    if not changed:
        return None
    return {"action": "subscription_plan_mirrored", "subscription_id": str(sub.id)}
