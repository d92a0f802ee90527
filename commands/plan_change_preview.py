"""A plan change's preview (issue 14, /v1/me): what ``ChangeSubscriptionItems`` would do,
recording nothing. It runs the same steps as the change's handler up to the point where
the change is recorded (``Subscription.preview_change``, the domain's own preview), so
the proration shown is the proration applied."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import Field

from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.messages import Command, SubscriptionItem
from commands.now import now_for
from commands.subscriptions import priced_items
from domain.customers import Customer
from domain.errors import InvalidCombination, NotFound
from domain.limits import MAX_SUBSCRIPTION_ITEMS
from domain.subscriptions import Subscription


class PreviewSubscriptionChange(Command):
    """Answers the change's items and proration lines; records nothing. ``customer_id``
    (set by /v1/me from the principal) must own the subscription, else 404."""

    subscription_id: UUID
    customer_id: UUID | None = None
    items: list[SubscriptionItem] = Field(min_length=1, max_length=MAX_SUBSCRIPTION_ITEMS)
    proration: Annotated[str, Field(pattern="^(prorate|none|period_end)$")] = "prorate"


def preview_change(uow: UnitOfWork, cmd: PreviewSubscriptionChange, ctx: Context) -> Result:
    sub = uow.get(Subscription, cmd.subscription_id, ctx.project_id)
    if cmd.customer_id is not None and sub.customer_id != cmd.customer_id:
        raise NotFound(f"subscription {cmd.subscription_id} not found", id=str(sub.id))
    now = now_for(uow, ctx, sub.test_clock_id)
    customer = uow.get(Customer, sub.customer_id, ctx.project_id)
    items, prices = priced_items(uow, ctx, customer, list(cmd.items))
    if (prices[0].interval, prices[0].interval_count) != (sub.interval, sub.interval_count):
        raise InvalidCombination("a plan change keeps the subscription's billing interval")
    checked, lines = sub.preview_change(items, now, cmd.proration)
    body: dict[str, Any] = {
        "object": "plan_change_preview",
        "subscription_id": str(sub.id),
        "currency": sub.currency,
        "items": checked,
        "proration": cmd.proration,
        "proration_lines": lines,
        "proration_total": sum(int(line["amount"]) for line in lines),
        "period_amount": sum(int(i["amount"]) for i in checked),
        "at": now.isoformat(),
    }
    return Result.unchanged(body)


HANDLERS: dict[type[Command], Handler] = {PreviewSubscriptionChange: preview_change}
