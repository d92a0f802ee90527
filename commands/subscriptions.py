"""Handlers for subscriptions.

Time comes from the command's context (the application's clock), except for customers on
a test clock: their subscriptions live at the clock's frozen time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from commands import messages as m
from commands import subscription_invoices
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.created import created
from commands.invoice_charges import reporting_calls
from commands.invoice_due_work import run_due
from commands.invoicing import summary
from commands.now import context_now, now_for
from domain.catalog import Price
from domain.customers import Customer
from domain.errors import (
    CurrencyMismatch,
    InvalidCombination,
    PriceArchived,
    PriceNotRecurring,
)
from domain.subscription_states import ACTIVE, INCOMPLETE, MAX_DUE_STEPS, Item
from domain.subscriptions import Subscription
from domain.test_clocks import TestClock


def subscription_summary(sub: Subscription) -> dict[str, Any]:
    return {**sub.summary(), "created": created(sub)}


def priced_items(
    uow: UnitOfWork, ctx: Context, customer: Customer, wanted: list[m.SubscriptionItem]
) -> tuple[list[Item], list[Price]]:
    """Check every price and price the items. All items share one currency (the
    customer's) and one billing interval."""
    if len({item.price_id for item in wanted}) != len(wanted):
        raise InvalidCombination("each price appears once; change its quantity instead")
    items: list[Item] = []
    prices: list[Price] = []
    for item in wanted:
        price = uow.get(Price, item.price_id, ctx.project_id)
        if not price.active:
            raise PriceArchived(f"price {price.id} is archived", price_id=str(price.id))
        if price.currency != customer.currency:
            raise CurrencyMismatch(
                f"price {price.id} is in {price.currency}; the customer pays in "
                f"{customer.currency}",
                price_currency=price.currency,
                customer_currency=customer.currency,
            )
        if not price.recurring:
            raise PriceNotRecurring(
                f"price {price.id} is one-time; subscriptions need recurring prices"
            )
        amount = 0 if price.metered else price.amount_for(item.quantity)
        items.append({"price_id": str(price.id), "quantity": item.quantity, "amount": amount})
        prices.append(price)
    if len({(p.interval, p.interval_count) for p in prices}) != 1:
        raise InvalidCombination("all prices of a subscription must bill on the same interval")
    return items, prices


def create_subscription(uow: UnitOfWork, cmd: m.CreateSubscription, ctx: Context) -> Result:
    customer = uow.get(Customer, cmd.customer_id, ctx.project_id)
    items, prices = priced_items(uow, ctx, customer, list(cmd.items))
    trial_days = cmd.trial_days if cmd.trial_days is not None else max(p.trial_days for p in prices)
    if cmd.incomplete and trial_days:
        # Through the API, incomplete means waiting for a first payment, which a trial
        # does not have; a checkout starts a trial by collecting a payment method instead.
        raise InvalidCombination("a trial needs no first payment, so it cannot be incomplete")
    return start_subscription(uow, ctx, customer, items, prices, trial_days, cmd.incomplete)


def start_subscription(
    uow: UnitOfWork,
    ctx: Context,
    customer: Customer,
    items: list[Item],
    prices: list[Price],
    trial_days: int,
    incomplete: bool,
) -> Result:
    """Start it (on the customer's test clock, if any) with its first invoice, unless it
    starts with a trial or waits for a checkout to start one."""
    clock = (
        uow.get(TestClock, customer.test_clock_id, ctx.project_id)
        if customer.test_clock_id
        else None
    )
    sub = Subscription.start(
        project_id=ctx.project_id,
        customer_id=customer.id,
        currency=customer.currency,
        items=items,
        interval=str(prices[0].interval),
        interval_count=prices[0].interval_count,
        now=clock.now() if clock else context_now(ctx),
        trial_days=trial_days,
        incomplete=incomplete,
        test_clock_id=clock.id if clock else None,
    )
    # Its first invoice (now, or when the trial ends) must fit the money limits with the
    # project's default tax rates too: drafted here, written nowhere, before it is kept.
    subscription_invoices.upcoming(uow, ctx, sub)
    if clock is not None:
        clock.attach_subscription(sub.id)
    uow.add(sub)
    body: dict[str, Any] = {"subscription": subscription_summary(sub)}
    if sub.status == ACTIVE or (sub.status == INCOMPLETE and not sub.offers_trial):
        # Invoicing (issue 4): the first period is billed as the subscription starts.
        invoice = subscription_invoices.invoice_period(uow, ctx, sub, sub.started_at, [], "started")
        body["invoice"] = summary(uow, invoice)
    return Result.created(body)


def _load(uow: UnitOfWork, ctx: Context, subscription_id: UUID) -> tuple[Subscription, datetime]:
    sub = uow.get(Subscription, subscription_id, ctx.project_id)
    return sub, now_for(uow, ctx, sub.test_clock_id)


def change_items(uow: UnitOfWork, cmd: m.ChangeSubscriptionItems, ctx: Context) -> Result:
    sub, now = _load(uow, ctx, cmd.subscription_id)
    customer = uow.get(Customer, sub.customer_id, ctx.project_id)
    items, prices = priced_items(uow, ctx, customer, list(cmd.items))
    if (prices[0].interval, prices[0].interval_count) != (sub.interval, sub.interval_count):
        raise InvalidCombination("a plan change keeps the subscription's billing interval")
    checked, lines = sub.preview_change(items, now, cmd.proration)
    # A change at period end is what the next renewal bills; otherwise one scheduled
    # before still is.
    pending = sub.pending_items if cmd.proration != "period_end" else None
    subscription_invoices.check_next_invoice(
        uow, ctx, sub, checked if pending is None else pending, [*sub.proration_lines, *lines]
    )
    sub.change_items(items, now, cmd.proration)
    return Result.changed({"subscription": subscription_summary(sub)})


def cancel(uow: UnitOfWork, cmd: m.CancelSubscription, ctx: Context) -> Result:
    sub, now = _load(uow, ctx, cmd.subscription_id)
    # Canceled now: the usage of the period so far is billed as it ends (rated first:
    # nothing may fail once the subscription has changed).
    # A trial cancels at once too, and bills no usage; nor does a paused subscription
    # (``usage_until``: its usage up to the pause was billed then).
    at_once = not cmd.at_period_end
    usage = subscription_invoices.usage_until(uow, ctx, sub, now) if at_once else None
    sub.cancel(now, at_period_end=cmd.at_period_end)
    subscription_invoices.bill_usage_until(uow, ctx, sub, now, usage, "final_usage")
    return Result.changed({"subscription": subscription_summary(sub)})


def undo_cancel(uow: UnitOfWork, cmd: m.UndoCancelSubscription, ctx: Context) -> Result:
    sub, _ = _load(uow, ctx, cmd.subscription_id)
    sub.undo_cancel()
    return Result.changed({"subscription": subscription_summary(sub)})


def pause(uow: UnitOfWork, cmd: m.PauseSubscription, ctx: Context) -> Result:
    sub, now = _load(uow, ctx, cmd.subscription_id)
    usage = subscription_invoices.usage_until(uow, ctx, sub, now)
    sub.pause(now, cmd.resume_at)
    subscription_invoices.bill_usage_until(uow, ctx, sub, now, usage, "usage_before_pause")
    return Result.changed({"subscription": subscription_summary(sub)})


def resume(uow: UnitOfWork, cmd: m.ResumeSubscription, ctx: Context) -> Result:
    sub, now = _load(uow, ctx, cmd.subscription_id)
    sub.resume(now)
    return Result.changed({"subscription": subscription_summary(sub)})


def extend_trial(uow: UnitOfWork, cmd: m.ExtendTrial, ctx: Context) -> Result:
    sub, _ = _load(uow, ctx, cmd.subscription_id)
    sub.extend_trial(cmd.trial_end)
    return Result.changed({"subscription": subscription_summary(sub)})


def activate(uow: UnitOfWork, cmd: m.ActivateSubscription, ctx: Context) -> Result:
    """Its checkout completed: the first payment arrived (active), or, for one that
    offers a trial, a payment method was saved (trialing from now)."""
    sub, now = _load(uow, ctx, cmd.subscription_id)
    if sub.offers_trial:
        sub.start_trial(now)
    else:
        sub.activate()
    return Result.changed({"subscription": subscription_summary(sub)})


def process_due(uow: UnitOfWork, cmd: m.ProcessDueSubscription, ctx: Context) -> Result:
    sub, now = _load(uow, ctx, cmd.subscription_id)
    steps: list[str] = []
    for _ in range(MAX_DUE_STEPS):
        due = sub.next_step_at()
        if due is None or due > now:
            break
        # Invoicing (issue 4): each step that starts a period drafts its invoice.
        step = subscription_invoices.step(uow, ctx, sub, due)
        if step is None:
            break
        steps.append(step)
    invoices = run_due(uow, ctx, sub.customer_id, sub.currency, now)
    return Result.changed(
        {
            "steps": steps,
            "invoice_work": invoices,
            "subscription": subscription_summary(sub),
        }
    )


_HANDLERS: dict[type[m.Command], Handler] = {
    m.CreateSubscription: create_subscription,
    m.ChangeSubscriptionItems: change_items,
    m.CancelSubscription: cancel,
    m.UndoCancelSubscription: undo_cancel,
    m.PauseSubscription: pause,
    m.ResumeSubscription: resume,
    m.ExtendTrial: extend_trial,
    m.ActivateSubscription: activate,
    m.ProcessDueSubscription: process_due,
}
# A subscription's first or next invoice may be charged at once: the answer lists the
# provider calls the command asked for.
HANDLERS: dict[type[m.Command], Handler] = {
    message: reporting_calls(handler) for message, handler in _HANDLERS.items()
}
