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

Providers deliver in any order, so each change is applied only if its event is at least
as new as every one applied about the same method (or the default) before
(``PaymentMethods.is_newest``, by the provider's own event time): an ``attached``
delivered after a newer ``detached`` of the method is recorded and changes nothing. A
new default counts as an event about the default and about its method, so an older one
cannot bring back a method detached since.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from commands.bus import Context
from commands.bus.unit_of_work import UnitOfWork
from commands.provider_events import EventType
from commands.webhook_lookups import Step, named
from domain.customers import Customer
from domain.payment_methods import DEFAULT_KEY, PaymentMethods
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
    if methods is None:
        methods = PaymentMethods.start(ctx.project_id, customer.id)
    # A new default is about the default and about the method it names: an older
    # ``customer.updated`` must not attach again a method detached since.
    keys = [DEFAULT_KEY, method] if kind is EventType.CUSTOMER_UPDATED else [method]
    at = _when(event.data.get("occurred_at"))
    if not all(methods.is_newest(key, at) for key in keys):

        def outdated() -> dict[str, Any]:
            return {"action": "outdated", "customer_id": str(customer.id), "payment_method": method}

        return [outdated]
    change = _change(methods, kind, method)

    def apply() -> dict[str, Any] | None:
        if change == "detach":
            methods.detach(method)
        elif change is not None:
            methods.attach(event.provider, method, f"attached at {event.provider}")
            if change == "default":
                methods.set_default(method)
        for key in keys:
            methods.note_provider_change(key, at)
        uow.add(methods)
        if change is None:
            return None
        action = {"detach": "payment_method_detached", "attach": "payment_method_attached"}
        return {
            "action": action.get(change, "payment_method_default_set"),
            "customer_id": str(customer.id),
            "payment_method": method,
        }

    return [apply]


def _change(methods: PaymentMethods, kind: EventType, method: str) -> str | None:
    """What the event asks of ``methods`` (``detach``, ``attach``, ``default``: attach if
    needed and make it the default), or None when they are that way already."""
    attached = method in methods.methods
    if kind is EventType.PAYMENT_METHOD_DETACHED:
        return "detach" if attached else None
    if kind is EventType.PAYMENT_METHOD_ATTACHED:
        return None if attached else "attach"
    return None if attached and methods.default_ref == method else "default"


def _when(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None
