"""The payment behind a paid Stripe invoice, asked of Stripe when its event names none.

At current API versions an invoice has no ``payment_intent``: its payments are
``InvoicePayment`` objects, listed by ``GET /v1/invoice_payments?invoice=in_...``
(``{"status": "paid", "payment": {"type": "payment_intent", "payment_intent":
"pi_..."}}``), and a webhook's invoice does not include them. When a paid invoice's
event names a Tally object that takes a payment (``tally_invoice``,
``tally_transaction``), Tally needs the PaymentIntent, since a refund names it: the
adapter lists the invoice's paid payments before the event is recorded. Stripe being
unreachable then is ``ProviderUnavailable`` (the webhook answers 503 and Stripe
redelivers); an invoice with no paid payment leaves the event without one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from adapters.providers.base import ProviderEvent
from adapters.providers.stripe_events import paid_payment_ref
from commands.provider_events import EventType

# The references of Tally objects whose payment Tally records (and may refund).
PAYING_REFERENCES = ("tally_invoice", "tally_transaction")
# An invoice has at most a handful of payments; the newest paid one is the payment.
PAGE = 20


def needs_payment(event: ProviderEvent) -> bool:
    """A paid invoice's event that names what Tally records a payment for, but no
    payment."""
    return (
        event.type is EventType.INVOICE_PAID
        and not event.payment_ref
        and bool(event.object_ref)
        and any(key in event.references for key in PAYING_REFERENCES)
    )


def with_invoice_payment(client: Any, event: ProviderEvent) -> ProviderEvent:
    """``event`` with the invoice's paid payment as its ``payment_ref``, looked up at
    Stripe (``client`` is the SDK's ``StripeClient``; its errors are the caller's)."""
    listed = client.v1.invoice_payments.list(
        {"invoice": event.object_ref, "status": "paid", "limit": PAGE}
    )
    rows = [row.to_dict() for row in listed.data]
    return replace(event, payment_ref=paid_payment_ref(rows))
