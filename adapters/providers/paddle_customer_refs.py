"""The Tally customer of a Paddle payment method's notification, from its Paddle customer.

Paddle Billing reports a customer's saved method saved (``payment_method.saved``, from a
checkout or the customer portal) and removed (``payment_method.deleted``). The
notification carries the method (``paymtd_...``) and its ``customer_id``, but no
``custom_data`` of Tally's; the customer is one Tally made, whose ``custom_data`` holds
``tally_customer``. So before such an event is recorded the adapter reads that customer
(``GET /customers/{id}``) and takes its ``tally_*`` references, as the Stripe adapter
does (``stripe_customer_refs.py``). A customer Paddle refuses to show (not this
account's) gives none, and the event is recorded and ignored; Paddle unreachable is
``ProviderUnavailable`` (503: Paddle redelivers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from adapters.providers.base import ProviderEvent, references_from
from adapters.providers.ids import PADDLE, path_segment
from commands.provider_errors import ProviderRejected
from commands.provider_events import EventType

METHOD_EVENTS = (EventType.PAYMENT_METHOD_ATTACHED, EventType.PAYMENT_METHOD_DETACHED)

Call = Callable[[str, str, object | None], dict[str, Any]]


def needs_customer(event: ProviderEvent) -> bool:
    return (
        event.type in METHOD_EVENTS
        and bool(event.customer_ref)
        and "tally_customer" not in event.references
    )


def with_customer_references(call: Call, event: ProviderEvent) -> ProviderEvent:
    """``event`` with its Paddle customer's ``tally_*`` references added (``call`` is
    the adapter's ``_call``)."""
    customer = path_segment(PADDLE, str(event.customer_ref), what="the customer id")
    try:
        found = call("GET", f"/customers/{customer}", None)
    except ProviderRejected:
        return event
    references = references_from(found.get("custom_data"))
    return replace(event, references={**references, **event.references})
