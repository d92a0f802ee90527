"""Subscriptions a provider runs: Tally's subscription commands asked of the provider.

A project whose ``SubscriptionRunner`` says ``provider`` (``ChooseSubscriptionRunner``)
keeps its subscriptions at Stripe or Paddle. Then creating one, changing its plan,
canceling it (now or at the period end) and undoing the cancel check the Tally
subscription as usual (fresh state, the same transition table), record what was asked
(``Subscription.ProviderAsked``) and a ``ProviderCall`` for the outbox, and change
nothing else: the provider's webhooks bring each change back into the subscription
(``commands/webhook_subscriptions.py``), so Tally and the provider cannot disagree
about what happened. A call is made once, under its fixed idempotency key; its id
derives from the subscription and the request's number, so a retried command finds it.

Each Tally price names its provider price (``Price.provider_price_ids``, set by
``MapPriceToProviders``); a ``ProviderPriceLink`` finds the Tally price again from the
provider's id when a webhook reports items. Pause, resume, trial extensions and activating
by hand are the provider's business and are refused (``provider_unsupported``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field

from commands import messages as m
from commands import subscriptions
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.catalog import price_summary
from commands.invoice_charges import payment_method, reporting_calls
from commands.messages import Command
from commands.now import context_now
from commands.provider_customers import named_customer
from commands.provider_errors import ProviderUnsupported
from domain.catalog import Price, Product
from domain.customers import Customer
from domain.errors import InvalidCombination, InvalidTransition
from domain.limits import MAX_PROVIDER_CANCEL_WAIT_S
from domain.provider_calls import FAILED, ProviderCall
from domain.provider_subscription_params import (
    CANCEL,
    CANCEL_AT_PERIOD_END,
    CHANGE_ITEMS,
    UNDO_CANCEL,
    ChangeSubscriptionParams,
    CreateSubscriptionParams,
    SubscriptionLine,
)
from domain.subscription_runners import PROVIDER, TALLY, ProviderPriceLink, SubscriptionRunner
from domain.subscriptions import Subscription

Provider = Annotated[str, Field(pattern="^(stripe|paddle|yookassa|stub)$")]
ProviderPriceId = Annotated[str, Field(min_length=1, max_length=100)]


class ChooseSubscriptionRunner(Command):
    """Who runs the project's new subscriptions, or (``product_id``) those of one plan;
    ``provider`` is the project's payment provider (the route fills it in)."""

    run_by: Annotated[str, Field(pattern="^(tally|provider)$")]
    provider: Provider
    product_id: UUID | None = None


class MapPriceToProviders(Command):
    """Name the provider's own price for a Tally price (replacing the whole mapping)."""

    price_id: UUID
    provider_price_ids: Annotated[dict[Provider, ProviderPriceId], Field(max_length=4)]


def runner_of(uow: UnitOfWork, ctx: Context) -> SubscriptionRunner | None:
    return uow.find(SubscriptionRunner, SubscriptionRunner.create_id(ctx.project_id))


def check_tally_runs(uow: UnitOfWork, ctx: Context, prices: list[Price]) -> None:
    """Refuse to start a Tally-run subscription (a subscription checkout) of plans the
    provider runs: Tally would renew and bill it beside the provider's own."""
    runner = runner_of(uow, ctx)
    provider = runner.runner_for({p.product_id for p in prices}) if runner else TALLY
    if provider != TALLY:
        raise ProviderUnsupported(
            f"{provider} runs these plans' subscriptions, so Tally's checkout cannot start "
            f"one: create it (POST /v1/subscriptions), which asks {provider} to start it",
            provider=provider,
        )


def choose_runner(uow: UnitOfWork, cmd: ChooseSubscriptionRunner, ctx: Context) -> Result:
    if cmd.run_by == PROVIDER and not SubscriptionRunner.can_run(cmd.provider):
        raise ProviderUnsupported(
            f"{cmd.provider} has no subscription API, so it cannot run subscriptions; "
            "Tally runs them (run_by: tally) and charges saved payment methods",
            provider=cmd.provider,
        )
    runner = runner_of(uow, ctx) or SubscriptionRunner.start(ctx.project_id)
    if cmd.product_id is None:
        runner.choose(cmd.run_by, cmd.provider)
    else:
        plan = uow.get(Product, cmd.product_id, ctx.project_id)  # one of the project's
        runner.choose_for_plan(plan.id, cmd.run_by, cmd.provider)
    uow.add(runner)
    return Result.changed({"subscription_runner": runner.summary()})


def map_price(uow: UnitOfWork, cmd: MapPriceToProviders, ctx: Context) -> Result:
    price = uow.get(Price, cmd.price_id, ctx.project_id)
    if price.map_to_providers(dict(cmd.provider_price_ids)):
        for provider, price_ref in (price.provider_price_ids or {}).items():
            link_id = ProviderPriceLink.create_id(ctx.project_id, provider, price_ref)
            link = uow.find(ProviderPriceLink, link_id)
            if link is None:
                uow.add(ProviderPriceLink.start(ctx.project_id, provider, price_ref, price.id))
            else:
                link.relink(price.id)
    return Result.changed({"price": price_summary(price)})


# -- the subscription commands, when the provider runs the subscription ---------------

OPERATION = ChangeSubscriptionParams.OPERATION


def _lines(
    prices: list[Price], wanted: list[m.SubscriptionItem], provider: str
) -> list[SubscriptionLine]:
    """Each item's provider price; a price not mapped to ``provider`` is refused."""
    lines: list[SubscriptionLine] = []
    for price, item in zip(prices, wanted, strict=True):
        price_ref = (price.provider_price_ids or {}).get(provider)
        if not price_ref:
            raise InvalidCombination(
                f"price {price.id} names no {provider} price; {provider} runs this "
                f"project's subscriptions (POST /v1/prices/{price.id}/provider_price_ids)",
                price_id=str(price.id),
            )
        lines.append(SubscriptionLine(price_ref=price_ref, quantity=item.quantity))
    return lines


def create(uow: UnitOfWork, cmd: m.CreateSubscription, ctx: Context) -> Result:
    runner = runner_of(uow, ctx)
    if runner is None:
        return subscriptions.create_subscription(uow, cmd, ctx)
    customer = uow.get(Customer, cmd.customer_id, ctx.project_id)
    items, prices = subscriptions.priced_items(uow, ctx, customer, list(cmd.items))
    provider = runner.runner_for({price.product_id for price in prices})
    if provider == TALLY:
        return subscriptions.create_subscription(uow, cmd, ctx)
    if customer.test_clock_id is not None:
        raise InvalidCombination(
            f"{provider} runs these subscriptions on its own clock; a customer on a Tally "
            "test clock cannot have one"
        )
    lines = _lines(prices, list(cmd.items), provider)
    trial_days = cmd.trial_days if cmd.trial_days is not None else max(p.trial_days for p in prices)
    sub = Subscription.start(
        project_id=ctx.project_id,
        customer_id=customer.id,
        currency=customer.currency,
        items=items,
        interval=str(prices[0].interval),
        interval_count=prices[0].interval_count,
        now=context_now(ctx),
        trial_days=trial_days,
        incomplete=True,  # until the provider's webhook says it started
    )
    sub.hand_to_provider(provider)
    named = named_customer(uow, ctx, customer, provider)
    if named.customer_ref is None and named.customer_call is None:
        raise InvalidCombination(
            f"{provider} needs the customer's email address to make its customer",
            customer_id=str(customer.id),
        )
    params = CreateSubscriptionParams(
        subscription_id=str(sub.id),
        lines=tuple(lines),
        currency=customer.currency,
        customer_ref=named.customer_ref,
        customer_id=named.customer_id,
        customer_call=named.customer_call,
        trial_days=trial_days,
        payment_method_ref=payment_method(uow, ctx, customer, provider),
        references=_references(ctx, sub),
    )
    call = _request(uow, ctx, provider, str(sub.id), params)
    uow.add(sub)
    body = {"subscription": subscriptions.subscription_summary(sub), "provider_call": call}
    return Result.created(body)


def _references(ctx: Context, sub: Subscription) -> dict[str, str]:
    return {
        "tally_project": str(ctx.project_id),
        "tally_subscription": str(sub.id),
        "tally_customer": str(sub.customer_id),
    }


def _request(
    uow: UnitOfWork,
    ctx: Context,
    provider: str,
    subject: str,
    params: CreateSubscriptionParams | ChangeSubscriptionParams,
) -> dict[str, Any]:
    call = ProviderCall.request(
        project_id=ctx.project_id,
        provider=provider,
        subject=subject,
        params=params,
        now=context_now(ctx),
    )
    assert uow.find(ProviderCall, call.id) is None, f"call {call.id} was asked for already"
    uow.add(call)
    return call.summary()


def _at_provider(sub: Subscription, trigger: str) -> None:
    """A change is asked of the provider only once it knows the subscription."""
    if not sub.provider_ref:
        raise InvalidTransition(
            f"{sub.provider} has not yet confirmed subscription {sub.id}; try again once "
            "its create call succeeded",
            state=sub.status,
            trigger=trigger,
        )


def _ask(uow: UnitOfWork, ctx: Context, sub: Subscription, action: str, **fields: Any) -> Result:
    number = sub.ask_provider(action)
    params = ChangeSubscriptionParams(
        subscription_id=str(sub.id),
        subscription_ref=sub.provider_ref,
        action=action,
        references=_references(ctx, sub),
        **fields,
    )
    call = _request(uow, ctx, sub.provider, f"{sub.id}:{number}", params)
    body = {"subscription": subscriptions.subscription_summary(sub), "provider_call": call}
    return Result.changed(body)


def change_items(uow: UnitOfWork, cmd: m.ChangeSubscriptionItems, ctx: Context) -> Result:
    sub = uow.get(Subscription, cmd.subscription_id, ctx.project_id)
    if sub.run_by != PROVIDER:
        return subscriptions.change_items(uow, cmd, ctx)
    customer = uow.get(Customer, sub.customer_id, ctx.project_id)
    items, prices = subscriptions.priced_items(uow, ctx, customer, list(cmd.items))
    if (prices[0].interval, prices[0].interval_count) != (sub.interval, sub.interval_count):
        raise InvalidCombination("a plan change keeps the subscription's billing interval")
    if cmd.proration == "period_end":
        raise ProviderUnsupported(
            f"a change at the period end of a subscription {sub.provider} runs needs its "
            "subscription schedules, which Tally does not use; change it now (prorate or none)",
            provider=sub.provider,
        )
    sub.preview_change(items, context_now(ctx), "none")  # the status allows a change
    lines = _lines(prices, list(cmd.items), sub.provider)
    _at_provider(sub, "change_items")
    prorate = cmd.proration == "prorate"
    return _ask(uow, ctx, sub, CHANGE_ITEMS, lines=tuple(lines), prorate=prorate)


def cancel(uow: UnitOfWork, cmd: m.CancelSubscription, ctx: Context) -> Result:
    sub = uow.get(Subscription, cmd.subscription_id, ctx.project_id)
    if sub.run_by != PROVIDER:
        return subscriptions.cancel(uow, cmd, ctx)
    # The transition table allows it, as for Tally's own (a paused one only now).
    sub.check_cancel(at_period_end=cmd.at_period_end)
    _at_provider(sub, "cancel")
    asked = _cancel_call(uow, ctx, sub)
    # A call refused for good is asked again; so is one the provider accepted whose
    # webhook has not come within the bounded wait (a lost delivery, a disabled
    # endpoint): its cancel is idempotent, so asking again is safe.
    cutoff = context_now(ctx) - timedelta(seconds=MAX_PROVIDER_CANCEL_WAIT_S)
    settled = asked is None or asked.state == FAILED or asked.accepted_before(cutoff)
    if sub.check_cancel_not_asked(at_period_end=cmd.at_period_end, asked_failed=settled):
        # Asked already and the provider's webhook has not come back: the answer is that
        # request, and nothing is recorded, so the provider is asked once.
        assert asked is not None
        summary = subscriptions.subscription_summary(sub)
        return Result.accepted({"subscription": summary, "provider_call": asked.summary()})
    return _ask(uow, ctx, sub, CANCEL_AT_PERIOD_END if cmd.at_period_end else CANCEL)


def _cancel_call(uow: UnitOfWork, ctx: Context, sub: Subscription) -> ProviderCall | None:
    """The call of the cancel the subscription still waits on, if any."""
    if not sub.cancel_asked:
        return None
    subject = f"{sub.id}:{sub.cancel_asked}"
    return uow.find(ProviderCall, ProviderCall.create_id(ctx.project_id, OPERATION, subject))


def undo_cancel(uow: UnitOfWork, cmd: m.UndoCancelSubscription, ctx: Context) -> Result:
    sub = uow.get(Subscription, cmd.subscription_id, ctx.project_id)
    if sub.run_by != PROVIDER:
        return subscriptions.undo_cancel(uow, cmd, ctx)
    sub.check_undo_cancel()
    _at_provider(sub, "undo_cancel")
    return _ask(uow, ctx, sub, UNDO_CANCEL)


def _tally_only(handler: Handler, what: str) -> Handler:
    """``handler`` for subscriptions Tally runs; refused for the provider's."""

    def run(uow: UnitOfWork, cmd: Any, ctx: Context) -> Result:
        sub = uow.get(Subscription, cmd.subscription_id, ctx.project_id)
        if sub.run_by == PROVIDER:
            raise ProviderUnsupported(
                f"{sub.provider} runs subscription {sub.id}: {what} it there",
                provider=sub.provider,
            )
        return handler(uow, cmd, ctx)

    return run


_HANDLERS: dict[type[m.Command], Handler] = {
    m.CreateSubscription: create,
    m.ChangeSubscriptionItems: change_items,
    m.CancelSubscription: cancel,
    m.UndoCancelSubscription: undo_cancel,
    m.PauseSubscription: _tally_only(subscriptions.pause, "pause"),
    m.ResumeSubscription: _tally_only(subscriptions.resume, "resume"),
    m.ExtendTrial: _tally_only(subscriptions.extend_trial, "extend the trial of"),
    # Its provider's webhook activates it (commands/webhook_lookups.py calls the handler
    # itself, not through the bus); a client may not.
    m.ActivateSubscription: _tally_only(subscriptions.activate, "activate"),
}
# These replace commands/subscriptions.py's handlers of the same messages (the
# composition root lists them after those), and report the calls they asked for.
HANDLERS: dict[type[Any], Handler] = {
    **{message: reporting_calls(handler) for message, handler in _HANDLERS.items()},
    ChooseSubscriptionRunner: choose_runner,
    MapPriceToProviders: map_price,
}
