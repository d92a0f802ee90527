"""Payments through a provider: hosted checkouts of items, carts and subscriptions
(wallet top-ups and refunds: ``commands/wallet_payments.py``).

Each handler records what Tally knows now (a pending Transaction, an incomplete
subscription and its invoice, a checked-out cart) together with a ``ProviderCall`` that
asks for the provider's part; the outbox worker makes the call after the commit. The
references Tally hands the provider (``tally_transaction``, ``tally_invoice``,
``tally_subscription``, ``tally_customer``, ...) come back on its webhooks, which is how
``commands/webhook_effects.py`` finds what a payment was for.

A customer who has no customer at the provider yet (Stripe, Paddle) gets one first: the
handler asks for a ``create_customer`` call too, and its own call waits for it
(``commands/provider_customers.py``).
"""

from __future__ import annotations

from typing import Any

from commands import provider_customers, provider_subscriptions, subscriptions, wallet_payments
from commands import provider_messages as pm
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.ledger import _new_id
from commands.line_descriptions import first_period_name
from commands.provider_errors import ProviderUnsupported
from commands.provider_requests import checkout_params, request_call
from domain.accounts import clearing_ref
from domain.carts import Cart
from domain.catalog import Price, Product
from domain.customers import Customer
from domain.errors import CurrencyMismatch, InvalidCombination, PriceArchived
from domain.limits import MAX_NAME_CHARS
from domain.line_descriptions import price_text
from domain.money import Money, minor_to_major
from domain.transactions import Transaction

SALES_REF = "revenue:checkout"
# Providers whose hosted checkout can save a payment method without taking a payment
# (``setup`` mode), which a subscription starting with a trial needs (docs/providers.md).
SETUP_PROVIDERS = ("stub", "stripe")


def resolve_line(uow: UnitOfWork, ctx: Context, line: pm.LineInput) -> dict[str, Any]:
    """A checkout line from a catalog price (priced by the catalog) or ad hoc."""
    if line.price_id is not None:
        price = uow.get(Price, line.price_id, ctx.project_id)
        if not price.active:
            raise PriceArchived(f"price {price.id} is archived", price_id=str(price.id))
        product = uow.get(Product, price.product_id, ctx.project_id)
        amount = price.amount_for(line.quantity)
        name = f"{product.name} x {line.quantity}" if line.quantity > 1 else product.name
        return {"name": name, "unit_amount": amount, "currency": price.currency, "quantity": 1}
    if line.name is None or line.unit_amount is None or line.currency is None:
        raise InvalidCombination("a line needs price_id, or name, unit_amount and currency")
    return {
        "name": line.name,
        "unit_amount": line.unit_amount,
        "currency": line.currency,
        "quantity": line.quantity,
    }


def _sale(
    uow: UnitOfWork,
    ctx: Context,
    cmd: Any,
    lines: list[dict[str, Any]],
    customer: Customer | None,
    references: dict[str, str],
    mode: str,
) -> Result:
    """A hosted checkout for a one-time purchase: a pending Transaction from the
    provider's clearing account to sales, completed when the provider confirms."""
    currencies = {line["currency"] for line in lines}
    if len(currencies) != 1:
        raise CurrencyMismatch("every line of a checkout has the same currency")
    total = sum(int(line["unit_amount"]) * int(line["quantity"]) for line in lines)
    txn = Transaction.begin(
        id=_new_id(ctx, "transaction"),
        project_id=ctx.project_id,
        kind="deposit",
        amount=Money(total, currencies.pop()),
        from_ref=clearing_ref(cmd.provider),
        to_ref=SALES_REF,
        complete_now=False,
        description=f"{mode} checkout",
    )
    uow.add(txn)
    refs = {**references, "tally_transaction": str(txn.id)}
    if customer is not None:
        refs["tally_customer"] = str(customer.id)
    named = provider_customers.named_customer(uow, ctx, customer, cmd.provider)
    call = request_call(
        uow,
        ctx,
        provider=cmd.provider,
        subject=str(txn.id),
        params=checkout_params(cmd, mode, lines, named, refs, str(txn.id)),
    )
    return Result.created({"transaction": txn.summary(), "provider_call": call.summary()})


def checkout_item(uow: UnitOfWork, cmd: pm.CheckoutItem, ctx: Context) -> Result:
    customer = uow.get(Customer, cmd.customer_id, ctx.project_id) if cmd.customer_id else None
    line = resolve_line(uow, ctx, cmd.line)
    return _sale(uow, ctx, cmd, [line], customer, {}, "item")


def checkout_cart(uow: UnitOfWork, cmd: pm.CheckoutCart, ctx: Context) -> Result:
    cart = uow.get(Cart, cmd.cart_id, ctx.project_id)
    customer = uow.get(Customer, cart.customer_id, ctx.project_id) if cart.customer_id else None
    cart.check_out()
    lines = [
        {k: line[k] for k in ("name", "unit_amount", "quantity")} | {"currency": cart.currency}
        for line in cart.lines.values()
    ]
    sale = _sale(uow, ctx, cmd, lines, customer, {"tally_cart": str(cart.id)}, "cart")
    return Result(sale.happened, {**sale.body, "cart": cart.summary()})


def checkout_subscription(uow: UnitOfWork, cmd: pm.CheckoutSubscription, ctx: Context) -> Result:
    """An incomplete subscription and its first invoice; paying the hosted checkout pays
    the invoice, which activates the subscription. With a trial (the request's
    ``trial_days``, else the prices' longest default) there is nothing to pay yet: the
    checkout collects a payment method, and its completion starts the trial."""
    customer = uow.get(Customer, cmd.customer_id, ctx.project_id)
    items, prices = subscriptions.priced_items(uow, ctx, customer, list(cmd.items))
    provider_subscriptions.check_tally_runs(uow, ctx, prices)
    trial_days = cmd.trial_days if cmd.trial_days is not None else max(p.trial_days for p in prices)
    if trial_days and cmd.provider not in SETUP_PROVIDERS:
        raise ProviderUnsupported(
            f"{cmd.provider} cannot collect a payment method without a payment, so its "
            "checkout cannot start a trial: check out with trial_days 0, or create the "
            "subscription with its trial and collect the method later",
            provider=cmd.provider,
        )
    created = subscriptions.start_subscription(
        uow, ctx, customer, items, prices, trial_days, incomplete=True
    ).body
    if trial_days:
        return _trial_checkout(uow, ctx, cmd, customer, created, prices, trial_days)
    sub, invoice = created["subscription"], created.get("invoice")
    # A draft (the project delays finalizing) owes nothing yet; it will owe its total.
    owed = "total" if invoice and invoice["status"] == "draft" else "amount_remaining"
    amount = int(invoice[owed]) if invoice else 0
    if amount <= 0:
        raise InvalidCombination("the first period costs nothing: create the subscription directly")
    refs = {"tally_subscription": str(sub["id"]), "tally_customer": str(customer.id)}
    if invoice:
        refs["tally_invoice"] = str(invoice["id"])
    lines = [
        {
            "name": first_period_name(invoice) if invoice else "Subscription, first period",
            "unit_amount": amount,
            "currency": customer.currency,
            "quantity": 1,
        }
    ]
    # Tally runs the subscription and bills its invoices, so at a provider that runs its
    # own (Stripe, Paddle) the first invoice is a one-time payment that saves the card;
    # the others get a subscription checkout, which saves the method for renewals.
    mode = "item" if cmd.provider in ("stripe", "paddle") else "subscription"
    return _subscription_checkout(uow, ctx, cmd, customer, created, mode, lines, refs)


def _trial_checkout(
    uow: UnitOfWork,
    ctx: Context,
    cmd: pm.CheckoutSubscription,
    customer: Customer,
    created: dict[str, Any],
    prices: list[Price],
    trial_days: int,
) -> Result:
    """A checkout that saves a payment method and charges nothing (``setup`` mode): its
    completion starts the subscription's trial, and the trial's end bills that method."""
    sub = created["subscription"]
    refs = {
        "tally_subscription": str(sub["id"]),
        "tally_customer": str(customer.id),
        # On the provider's objects too (Stripe's SetupIntent), so the saved method is
        # made the customer's default when it comes back (webhook_effects).
        "tally_checkout_mode": "setup",
    }
    names = "; ".join(
        price_text(uow.get(Product, p.product_id, ctx.project_id).name, p) for p in prices
    )
    then = sum(int(item["amount"]) for item in sub["items"])
    after = f"then {minor_to_major(then, customer.currency)} {customer.currency}"
    lines = [
        {
            # "Pro, monthly: 14 days free, then 29.00 EUR", as Stripe's page says it.
            "name": f"{names}: {trial_days} days free, {after}"[:MAX_NAME_CHARS],
            "unit_amount": 0,
            "currency": customer.currency,
            "quantity": 1,
        }
    ]
    return _subscription_checkout(
        uow, ctx, cmd, customer, created, "setup", lines, refs, trial_days=trial_days
    )


def _subscription_checkout(
    uow: UnitOfWork,
    ctx: Context,
    cmd: pm.CheckoutSubscription,
    customer: Customer,
    created: dict[str, Any],
    mode: str,
    lines: list[dict[str, Any]],
    refs: dict[str, str],
    trial_days: int | None = None,
) -> Result:
    """The provider call for a subscription's checkout (its first period, or with
    ``trial_days`` its trial), and the answer: the subscription and the call."""
    named = provider_customers.named_customer(uow, ctx, customer, cmd.provider)
    call = request_call(
        uow,
        ctx,
        provider=cmd.provider,
        subject=f"subscription:{created['subscription']['id']}",
        params=checkout_params(cmd, mode, lines, named, refs, None, trial_days),
    )
    return Result.created({**created, "provider_call": call.summary()})


HANDLERS: dict[type[Any], Handler] = {
    # The outbox's reports about provider customers are registered with the checkouts
    # that ask for them, so the composition root needs no new entry.
    **provider_customers.HANDLERS,
    pm.CheckoutItem: checkout_item,
    pm.CheckoutCart: checkout_cart,
    pm.CheckoutSubscription: checkout_subscription,
    # Top-ups and refunds, the other payments through a provider, registered with them.
    **wallet_payments.HANDLERS,
}
