"""What the provider's own changes to a customer's saved methods change in Tally
(issue 18, item 2; part of ``ApplyWebhookEvent``'s translation).

Stripe reports a method attached to or detached from its customer
(``payment_method.attached``/``detached``, from its dashboard, Elements, a checkout)
and the customer's default (``customer.updated``, ``invoice_settings.
default_payment_method``). Each is mirrored into the ``tally_customer``'s payment
methods, only from the state it expects (a method attached already, or detached
already, or the default already, changes nothing), and *without* a call back to the
provider, which made the change: so a change Tally made and the provider then reports
goes to the provider once, never twice.
"""

from __future__ import annotations

from typing import Any

from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from commands.provider_events import EventType
from commands.webhook_lookups import Step, named
from domain.customers import Customer
from domain.payment_methods import PaymentMethods
from domain.webhooks import WebhookEvent

METHOD_EVENTS = {
    EventType.PAYMENT_METHOD_ATTACHED,
    EventType.PAYMENT_METHOD_DETACHED,
    EventType.CUSTOMER_UPDATED,
}


def methods_changed(
    uow: UnitOfWork, ctx: Context, event: WebhookEvent, kind: EventType
) -> list[Step]:
    customer: Customer | None = named(uow, ctx, Customer, event, "customer")
    method = str(event.data.get("payment_method_ref") or "")
    if customer is None or not method:
        return []
    methods = uow.find(PaymentMethods, PaymentMethods.create_id(ctx.project_id, customer.id))
    attached = methods is not None and method in methods.methods
    if kind is EventType.PAYMENT_METHOD_DETACHED:
        return [lambda: _detach(uow, methods, method)] if attached else []
    if kind is EventType.PAYMENT_METHOD_ATTACHED and attached:
        return []
    if kind is EventType.CUSTOMER_UPDATED and attached and methods.default_ref == method:  # type: ignore[union-attr]
        return []
    make_default = kind is EventType.CUSTOMER_UPDATED
    return [lambda: _attach(uow, ctx, customer, event.provider, method, make_default)]


def _attach(
    uow: UnitOfWork,
    ctx: Context,
    customer: Customer,
    provider: str,
    method: str,
    make_default: bool,
) -> dict[str, Any]:
    methods = uow.find(PaymentMethods, PaymentMethods.create_id(ctx.project_id, customer.id))
    if methods is None:
        methods = PaymentMethods.start(ctx.project_id, customer.id)
    methods.attach(provider, method, f"attached at {provider}")
    if make_default:
        methods.set_default(method)
    uow.add(methods)
    action = "payment_method_default_set" if make_default else "payment_method_attached"
    return {"action": action, "customer_id": str(customer.id), "payment_method": method}


def _detach(uow: UnitOfWork, methods: PaymentMethods | None, method: str) -> dict[str, Any]:
    assert methods is not None
    methods.detach(method)
    uow.add(methods)
    return {
        "action": "payment_method_detached",
        "customer_id": str(methods.customer_id),
        "payment_method": method,
    }
