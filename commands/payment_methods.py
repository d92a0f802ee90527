"""A customer's saved payment methods: attach a provider reference, detach, set default.

Each change is kept in step at the provider (issue 18): the handler records a
``payment_method`` provider call (``PaymentMethodParams``) in the same transaction, and
the outbox makes it after the commit, once (its idempotency key is fixed). What each
provider offers (``SYNCED``): Stripe attaches a method to its customer, detaches it, and
makes it the customer's ``invoice_settings.default_payment_method``; Paddle can delete
a customer's saved method but has no attach (methods are saved by its checkout) and no
default; YooKassa and the stub keep no methods to sync. A change that came *from* the
provider (its webhook, ``commands/webhook_payment_methods.py``) is mirrored without a
call back, so nothing goes to the provider twice.
"""

from __future__ import annotations

from typing import Any

from commands import provider_customers
from commands import provider_messages as pm
from commands.bus import Context, Handler, Result
from commands.bus.unit_of_work import UnitOfWork
from commands.now import context_now
from domain.customers import Customer
from domain.errors import NotFound
from domain.payment_methods import PaymentMethods
from domain.provider_call_params import PaymentMethodParams
from domain.provider_calls import ProviderCall

# What each provider's API can do with a customer's saved method.
SYNCED: dict[str, tuple[str, ...]] = {
    "stripe": ("attach", "detach", "set_default"),
    "paddle": ("detach",),
}


def _methods(uow: UnitOfWork, ctx: Context, customer: Customer) -> PaymentMethods | None:
    return uow.find(PaymentMethods, PaymentMethods.create_id(ctx.project_id, customer.id))


def sync_call(
    uow: UnitOfWork,
    ctx: Context,
    customer: Customer,
    methods: PaymentMethods,
    action: str,
    reference: str,
    provider: str,
) -> str | None:
    """Record the call that makes ``action`` on ``reference`` at ``provider``, if it
    offers that; its id. One call per change: the subject names the methods' version
    after the change, so attaching, detaching and attaching again are three calls."""
    if action not in SYNCED.get(provider, ()):
        return None
    named = provider_customers.named_customer(uow, ctx, customer, provider)
    if named.customer_ref is None and named.customer_call is None:
        return None  # no customer at the provider (a Paddle customer without email)
    call = ProviderCall.request(
        project_id=ctx.project_id,
        provider=provider,
        subject=f"{customer.id}:{methods.version}:{action}:{reference}",
        params=PaymentMethodParams(
            action=action,
            payment_method_ref=reference,
            customer_ref=named.customer_ref,
            customer_id=str(customer.id),
            customer_call=named.customer_call,
            references={"tally_customer": str(customer.id)},
        ),
        now=context_now(ctx),
    )
    uow.add(call)
    return str(call.id)


def _answer(methods: PaymentMethods, calls: list[str | None]) -> Result:
    made = [call for call in calls if call is not None]
    return Result.changed({"payment_methods": methods.summary(), "provider_calls": made})


def attach(uow: UnitOfWork, cmd: pm.AttachPaymentMethod, ctx: Context) -> Result:
    customer = uow.get(Customer, cmd.customer_id, ctx.project_id)
    methods = _methods(uow, ctx, customer)
    if methods is None:
        methods = PaymentMethods.start(ctx.project_id, customer.id)
    before = methods.default_ref
    attached = methods.attach(cmd.provider, cmd.payment_method, cmd.label)
    if cmd.make_default:
        methods.set_default(cmd.payment_method)
    uow.add(methods)
    # A saved method is charged later on the provider's customer (Stripe charges only a
    # method of a customer): make sure that customer will exist by then.
    provider_customers.request_customer(uow, ctx, customer, cmd.provider)
    calls = []
    if attached:
        calls.append(
            sync_call(uow, ctx, customer, methods, "attach", cmd.payment_method, cmd.provider)
        )
    if methods.default_ref != before and methods.default_ref is not None:
        calls.append(_default_call(uow, ctx, customer, methods))
    return _answer(methods, calls)


def _default_call(
    uow: UnitOfWork, ctx: Context, customer: Customer, methods: PaymentMethods
) -> str | None:
    reference = methods.default_ref
    assert reference is not None
    provider = str(methods.methods[reference]["provider"])
    return sync_call(uow, ctx, customer, methods, "set_default", reference, provider)


def _existing(uow: UnitOfWork, ctx: Context, cmd: Any) -> tuple[Customer, PaymentMethods]:
    customer = uow.get(Customer, cmd.customer_id, ctx.project_id)
    methods = _methods(uow, ctx, customer)
    if methods is None:
        raise NotFound(f"payment method {cmd.payment_method} not found", id=cmd.payment_method)
    return customer, methods


def detach(uow: UnitOfWork, cmd: pm.DetachPaymentMethod, ctx: Context) -> Result:
    customer, methods = _existing(uow, ctx, cmd)
    before = methods.default_ref
    provider = str(methods.methods.get(cmd.payment_method, {}).get("provider", ""))
    methods.detach(cmd.payment_method)
    calls = [sync_call(uow, ctx, customer, methods, "detach", cmd.payment_method, provider)]
    # Detaching the default makes the next method the default, there too.
    if methods.default_ref != before and methods.default_ref is not None:
        calls.append(_default_call(uow, ctx, customer, methods))
    return _answer(methods, calls)


def set_default(uow: UnitOfWork, cmd: pm.SetDefaultPaymentMethod, ctx: Context) -> Result:
    customer, methods = _existing(uow, ctx, cmd)
    before = methods.default_ref
    methods.set_default(cmd.payment_method)
    calls = [_default_call(uow, ctx, customer, methods)] if methods.default_ref != before else []
    return _answer(methods, calls)


HANDLERS: dict[type[Any], Handler] = {
    pm.AttachPaymentMethod: attach,
    pm.DetachPaymentMethod: detach,
    pm.SetDefaultPaymentMethod: set_default,
}
