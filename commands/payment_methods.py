"""A customer's saved payment methods: attach a provider reference, detach, set default."""

from __future__ import annotations

from typing import Any

from commands import provider_customers
from commands import provider_messages as pm
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from domain.customers import Customer
from domain.errors import NotFound
from domain.payment_methods import PaymentMethods


def _methods(uow: UnitOfWork, ctx: Context, customer: Customer) -> PaymentMethods | None:
    return uow.find(PaymentMethods, PaymentMethods.create_id(ctx.project_id, customer.id))


def attach(uow: UnitOfWork, cmd: pm.AttachPaymentMethod, ctx: Context) -> Result:
    customer = uow.get(Customer, cmd.customer_id, ctx.project_id)
    methods = _methods(uow, ctx, customer)
    if methods is None:
        methods = PaymentMethods.start(ctx.project_id, customer.id)
    methods.attach(cmd.provider, cmd.payment_method, cmd.label)
    if cmd.make_default:
        methods.set_default(cmd.payment_method)
    uow.add(methods)
    # A saved method is charged later on the provider's customer (Stripe charges only a
    # method of a customer): make sure that customer will exist by then.
    provider_customers.request_customer(uow, ctx, customer, cmd.provider)
    return Result.changed({"payment_methods": methods.summary()})


def _existing(uow: UnitOfWork, ctx: Context, cmd: Any) -> PaymentMethods:
    customer = uow.get(Customer, cmd.customer_id, ctx.project_id)
    methods = _methods(uow, ctx, customer)
    if methods is None:
        raise NotFound(f"payment method {cmd.payment_method} not found", id=cmd.payment_method)
    return methods


def detach(uow: UnitOfWork, cmd: pm.DetachPaymentMethod, ctx: Context) -> Result:
    methods = _existing(uow, ctx, cmd)
    methods.detach(cmd.payment_method)
    return Result.changed({"payment_methods": methods.summary()})


def set_default(uow: UnitOfWork, cmd: pm.SetDefaultPaymentMethod, ctx: Context) -> Result:
    methods = _existing(uow, ctx, cmd)
    methods.set_default(cmd.payment_method)
    return Result.changed({"payment_methods": methods.summary()})


HANDLERS: dict[type[Any], Handler] = {
    pm.AttachPaymentMethod: attach,
    pm.DetachPaymentMethod: detach,
    pm.SetDefaultPaymentMethod: set_default,
}
