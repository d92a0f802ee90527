"""Carts: gather items, then check the cart out through the provider (commands/checkout.py)."""

from __future__ import annotations

from typing import Any

from commands import provider_messages as pm
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.checkout import resolve_line
from domain.carts import Cart
from domain.customers import Customer
from domain.errors import CurrencyMismatch
from domain.money import Money


def create_cart(uow: UnitOfWork, cmd: pm.CreateCart, ctx: Context) -> Result:
    if cmd.customer_id is not None:
        customer = uow.get(Customer, cmd.customer_id, ctx.project_id)
        if customer.currency != cmd.currency:
            raise CurrencyMismatch(
                f"the customer pays in {customer.currency}, the cart is in {cmd.currency}",
                expected=customer.currency,
                got=cmd.currency,
            )
    cart = Cart.open(ctx.project_id, cmd.customer_id, cmd.currency)
    uow.add(cart)
    return Result.created({"cart": cart.summary()})


def add_item(uow: UnitOfWork, cmd: pm.AddCartItem, ctx: Context) -> Result:
    cart = uow.get(Cart, cmd.cart_id, ctx.project_id)
    line = resolve_line(uow, ctx, cmd.line)
    price_id = cmd.line.price_id
    unit_amount = Money(line["unit_amount"], line["currency"])
    cart.add_line(line["name"], unit_amount, line["quantity"], price_id)
    return Result.changed({"cart": cart.summary()})


def remove_item(uow: UnitOfWork, cmd: pm.RemoveCartItem, ctx: Context) -> Result:
    cart = uow.get(Cart, cmd.cart_id, ctx.project_id)
    cart.remove_line(cmd.line_id)
    return Result.changed({"cart": cart.summary()})


HANDLERS: dict[type[Any], Handler] = {
    pm.CreateCart: create_cart,
    pm.AddCartItem: add_item,
    pm.RemoveCartItem: remove_item,
}
