"""Saved payment methods kept in step at Stripe (issue 18, item 2).

Tally's attach, detach and set-default reach Stripe through the outbox:
``POST /v1/payment_methods/{pm}/attach`` (``customer``), ``POST
/v1/payment_methods/{pm}/detach``, and the customer's
``invoice_settings.default_payment_method`` (``POST /v1/customers/{cus}``), each under
the call's idempotency key (a retry after a lost answer gets Stripe's first answer). A
method detached at Stripe already (its dashboard, or a payment_method.detached that
crossed Tally's detach) is the state Tally asked for: that refusal is taken as done.
"""

from __future__ import annotations

from typing import Any

import stripe as stripe_sdk

from adapters.providers.base import PaymentMethodRequest
from adapters.providers.ids import STRIPE, checked
from commands.provider_errors import ProviderUnsupported

ACTIONS = ("attach", "detach", "set_default")


def sync(client: Any, request: PaymentMethodRequest) -> None:
    """Make the change at Stripe (``client`` is the SDK's ``StripeClient``; its errors
    are the caller's to map)."""
    method = checked(STRIPE, request.payment_method_ref, what="the payment method id")
    options: Any = {"idempotency_key": request.idempotency_key}
    if request.action == "detach":
        try:
            client.v1.payment_methods.detach(method, None, options)
        except stripe_sdk.InvalidRequestError as error:
            if "not attached" not in str(error.user_message or ""):
                raise
        return
    customer = checked(STRIPE, request.customer_ref, what="the customer id")
    if request.action == "attach":
        # A method attached to another customer is refused by Stripe: the call fails.
        client.v1.payment_methods.attach(method, {"customer": customer}, options)
    elif request.action == "set_default":
        params = {"invoice_settings": {"default_payment_method": method}}
        client.v1.customers.update(customer, params, options)
    else:
        raise ProviderUnsupported(
            f"Stripe has no {request.action!r} for a payment method", provider="stripe"
        )
