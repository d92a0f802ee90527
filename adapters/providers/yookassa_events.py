"""YooKassa notifications in Tally's vocabulary, from the object fetched back.

YooKassa notifications are ``{"type": "notification", "event": "payment.succeeded",
"object": <payment or refund>}`` and carry no signature and no event id. The adapter
fetches the object from the API and normalizes *that*; the id of the event is
``<event>:<object id>``, which is stable across redeliveries (a payment succeeds once).
Amounts are major-unit decimal strings (``{"value": "2.00", "currency": "RUB"}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.providers.amounts import major_to_minor
from adapters.providers.base import ProviderEvent, references_from
from adapters.providers.times import iso_time
from commands.provider_events import EventType

YOOKASSA_TYPES: dict[str, EventType] = {
    "payment.succeeded": EventType.PAYMENT_SUCCEEDED,
    "payment.canceled": EventType.PAYMENT_FAILED,
    "refund.succeeded": EventType.REFUND_SUCCEEDED,
}

# The status the fetched object must have for each notification to be believed.
CONFIRMING_STATUS: dict[str, str] = {
    "payment.succeeded": "succeeded",
    "payment.canceled": "canceled",
    "payment.waiting_for_capture": "waiting_for_capture",
    "refund.succeeded": "succeeded",
}


def _money(obj: Mapping[str, Any]) -> tuple[int | None, str | None]:
    amount = obj.get("amount")
    if not isinstance(amount, Mapping):
        return None, None
    currency = str(amount.get("currency", "")).upper() or None
    if currency is None:
        return None, None
    return major_to_minor(str(amount.get("value", "")), currency), currency


def normalize(
    event: str, fetched: Mapping[str, Any], notification: Mapping[str, Any]
) -> ProviderEvent:
    amount_minor, currency = _money(fetched)
    object_ref = str(fetched.get("id", ""))
    fields: dict[str, Any] = {
        "provider": "yookassa",
        "event_id": f"{event}:{object_ref}",
        "type": YOOKASSA_TYPES.get(event, EventType.UNKNOWN),
        "provider_type": event,
        "object_ref": object_ref,
        "occurred_at": iso_time(fetched.get("captured_at")) or iso_time(fetched.get("created_at")),
        "raw": {"notification": notification, "confirmed": fetched},
        "amount_minor": amount_minor,
        "currency": currency,
        "status": fetched.get("status") if isinstance(fetched.get("status"), str) else None,
        "references": references_from(fetched.get("metadata")),
    }
    if event.startswith("refund."):
        fields["payment_ref"] = fetched.get("payment_id")
    else:
        fields["payment_ref"] = object_ref
        method = fetched.get("payment_method")
        if isinstance(method, Mapping) and method.get("saved"):
            fields["payment_method_ref"] = method.get("id")
        cancellation = fetched.get("cancellation_details")
        if isinstance(cancellation, Mapping):
            fields["failure_reason"] = cancellation.get("reason")
    return ProviderEvent(**fields)
