"""The Tally customer of a Stripe payment method's event, from its Stripe customer.

``payment_method.attached`` and ``payment_method.detached`` carry the method, whose own
metadata names nothing of Tally's; its customer (``customer``, or for a detach the
event's ``previous_attributes.customer``) is a Stripe customer Tally made, whose
metadata holds ``tally_customer``. So before such an event is recorded the adapter
reads that customer (``GET /v1/customers/{id}``) and takes its ``tally_*`` references.
A customer Stripe no longer has (deleted, or not this account's) gives none, and the
event is recorded and ignored; Stripe unreachable is ``ProviderUnavailable`` (503: it
redelivers).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import stripe as stripe_sdk

from adapters.providers.base import ProviderEvent, references_from
from commands.provider_events import EventType

METHOD_EVENTS = (EventType.PAYMENT_METHOD_ATTACHED, EventType.PAYMENT_METHOD_DETACHED)


def needs_customer(event: ProviderEvent) -> bool:
    return (
        event.type in METHOD_EVENTS
        and bool(event.customer_ref)
        and "tally_customer" not in event.references
    )


def with_customer_references(client: Any, event: ProviderEvent) -> ProviderEvent:
    """``event`` with its Stripe customer's ``tally_*`` references added (``client`` is
    the SDK's ``StripeClient``; errors other than an unknown customer are the caller's)."""
    try:
        customer = client.v1.customers.retrieve(event.customer_ref)
    except stripe_sdk.InvalidRequestError as error:
        if error.http_status == 404:
            return event
        raise
    metadata = customer.to_dict().get("metadata")
    return replace(event, references={**references_from(metadata), **event.references})
