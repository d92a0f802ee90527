"""Paddle Billing webhook events in Tally's vocabulary.

A Paddle notification is ``{"event_id": "evt_...", "event_type": "transaction.completed",
"occurred_at": "<RFC 3339>", "notification_id": "ntf_...", "data": <entity>}``. Amounts
are strings of minor units (``"details": {"totals": {"total": "2400"}}``) with an
upper-case ``currency_code``; Tally's references travel in ``custom_data``.

A transaction is reported ``paid`` (the payment is captured) and then ``completed``
(Paddle has processed it): both are a payment's success, and the second changes nothing
in Tally. ``subscription.activated``, ``past_due``, ``paused`` and ``resumed`` carry the
whole subscription like ``subscription.updated`` and are mirrored the same way.

A one-time charge of a saved method (``POST /subscriptions/{id}/charge``, origin
``subscription_charge``) carries Tally's references on its price
(``items[].price.custom_data``, ``paddle_bodies.charge_body``); its transaction's own
``custom_data`` is what Paddle copied from the subscription, if anything. So a
transaction's references are its items' and its own (the items' win), and a charge is
not reported as the subscription's bill: it names no ``subscription_ref``, so it is never
mirrored as a provider-run subscription's invoice (``provider_invoices.provider_bills``)
beside the Tally invoice it pays.

Refunds are adjustments (``action: refund``), which Paddle creates ``pending_approval``
and then approves or rejects (``adjustment.updated``; a refund it needs not review is
created ``approved``). Adjustments keep no custom data, so the refund call that asked
for one is named by the idempotency key at the end of its reason (``paddle_bodies.py``).
Other adjustments (credits, chargebacks) are not translated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.providers.amounts import minor_from_text
from adapters.providers.base import ProviderEvent, references_from
from adapters.providers.paddle_bodies import refund_call_in
from adapters.providers.paddle_subscriptions import subscription_fields
from adapters.providers.times import iso_time
from commands.provider_events import EventType

PADDLE_TYPES: dict[str, EventType] = {
    "transaction.completed": EventType.PAYMENT_SUCCEEDED,
    "transaction.paid": EventType.PAYMENT_SUCCEEDED,
    "transaction.payment_failed": EventType.PAYMENT_FAILED,
    # The end of a checkout that a declined card left open (Paddle keeps the transaction
    # ready for another card): it fails the sale or top-up, as an expired session does.
    "transaction.canceled": EventType.CHECKOUT_CANCELED,
    "subscription.created": EventType.SUBSCRIPTION_CREATED,
    "subscription.updated": EventType.SUBSCRIPTION_UPDATED,
    "subscription.activated": EventType.SUBSCRIPTION_UPDATED,
    "subscription.past_due": EventType.SUBSCRIPTION_UPDATED,
    # Paused and resumed carry the whole subscription (status paused / active) too.
    "subscription.paused": EventType.SUBSCRIPTION_UPDATED,
    "subscription.resumed": EventType.SUBSCRIPTION_UPDATED,
    "subscription.canceled": EventType.SUBSCRIPTION_CANCELED,
    "customer.created": EventType.CUSTOMER_CREATED,
    # A customer's saved method, saved or removed at Paddle (paddle_customer_refs.py).
    "payment_method.saved": EventType.PAYMENT_METHOD_ATTACHED,
    "payment_method.deleted": EventType.PAYMENT_METHOD_DETACHED,
}

# A transaction Tally's charge of a saved method made through a subscription.
CHARGE_ORIGIN = "subscription_charge"

# A refund adjustment's status -> what it means; ``pending_approval`` means nothing yet.
REFUND_STATUS: dict[str, EventType] = {
    "approved": EventType.REFUND_SUCCEEDED,
    "rejected": EventType.REFUND_FAILED,
}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def normalize(notification: Mapping[str, Any]) -> ProviderEvent:
    provider_type = str(notification.get("event_type", ""))
    data = notification.get("data")
    entity: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
    event_type = PADDLE_TYPES.get(provider_type, EventType.UNKNOWN)
    if provider_type.startswith("adjustment.") and entity.get("action") == "refund":
        event_type = REFUND_STATUS.get(str(entity.get("status")), EventType.UNKNOWN)
    fields: dict[str, Any] = {
        "provider": "paddle",
        "event_id": str(notification.get("event_id", "")),
        "type": event_type,
        "provider_type": provider_type,
        "object_ref": _text(entity.get("id")) or "",
        "occurred_at": iso_time(notification.get("occurred_at")),
        "raw": notification,
        "currency": _text(entity.get("currency_code")),
        "status": _text(entity.get("status")),
        "customer_ref": _text(entity.get("customer_id")),
        "subscription_ref": _text(entity.get("subscription_id")),
        "references": references_from(entity.get("custom_data")),
    }
    if provider_type.startswith("subscription."):
        fields["subscription_ref"] = fields["object_ref"]
        # Paddle says "cancel at the period end" as a scheduled change to cancel.
        change = entity.get("scheduled_change")
        action = change.get("action") if isinstance(change, Mapping) else None
        fields["cancel_at_period_end"] = action == "cancel"
        fields.update(subscription_fields(entity))  # items and period, for the mirror
    if provider_type.startswith("transaction."):
        fields.update(_transaction(entity))
        if event_type is EventType.CHECKOUT_CANCELED:
            fields["failure_reason"] = None  # its status says why: canceled, not declined
    elif provider_type == "customer.created":
        fields["customer_ref"] = fields["object_ref"]
    elif provider_type.startswith("payment_method."):
        fields["payment_method_ref"] = fields["object_ref"]
    elif provider_type.startswith("adjustment."):
        fields.update(_adjustment(entity))
    return ProviderEvent(**fields)


def _adjustment(entity: Mapping[str, Any]) -> dict[str, Any]:
    """A refund: the transaction it refunds is the payment, its total the amount, and
    the call that asked for it (if Tally did) is named by its reason."""
    totals = entity.get("totals")
    totals = totals if isinstance(totals, Mapping) else {}
    references = references_from(entity.get("custom_data"))
    call = refund_call_in(entity.get("reason"))
    if call is not None:
        references["tally_refund_call"] = call
    return {
        "amount_minor": minor_from_text(totals.get("total")),
        "currency": _text(totals.get("currency_code")) or _text(entity.get("currency_code")),
        "payment_ref": _text(entity.get("transaction_id")),
        "references": references,
    }


def transaction_references(entity: Mapping[str, Any]) -> dict[str, str]:
    """A transaction's Tally references: its own and its prices' (a charge keeps them
    on its price, see above; the prices' win)."""
    found = references_from(entity.get("custom_data"))
    items = entity.get("items")
    for item in items if isinstance(items, list) else []:
        price = item.get("price") if isinstance(item, Mapping) else None
        if isinstance(price, Mapping):
            found.update(references_from(price.get("custom_data")))
    return found


def _transaction(entity: Mapping[str, Any]) -> dict[str, Any]:
    details = entity.get("details")
    totals = details.get("totals") if isinstance(details, Mapping) else None
    totals = totals if isinstance(totals, Mapping) else {}
    payments = entity.get("payments")
    # Paddle lists payment attempts newest first; the newest says why this one failed.
    latest = payments[0] if isinstance(payments, list) and payments else {}
    latest = latest if isinstance(latest, Mapping) else {}
    fields: dict[str, Any] = {}
    if entity.get("origin") == CHARGE_ORIGIN:
        fields["subscription_ref"] = None  # a charge through it, not its bill
    return {
        **fields,
        "references": transaction_references(entity),
        "amount_minor": minor_from_text(totals.get("grand_total") or totals.get("total")),
        "currency": _text(totals.get("currency_code")) or _text(entity.get("currency_code")),
        "payment_ref": _text(entity.get("id")),
        "payment_method_ref": _text(latest.get("payment_method_id")),
        "failure_reason": _text(latest.get("error_code")),
    }
