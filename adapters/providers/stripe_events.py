"""Stripe webhook events in Tally's vocabulary.

Only verified events reach this module (``StripeProvider.parse_webhook`` checks the
signature first). A Stripe event is ``{"id": "evt_...", "type": ..., "created": <unix>,
"data": {"object": <resource>}}``; the resource's fields differ by type, and across API
versions some moved (an invoice's subscription is ``subscription`` in old versions and
``parent.subscription_details.subscription`` in new ones), so both places are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.providers.base import ProviderEvent, references_from
from adapters.providers.stripe_subscriptions import subscription_fields
from adapters.providers.times import unix_time
from commands.provider_events import EventType

STRIPE_TYPES: dict[str, EventType] = {
    "customer.created": EventType.CUSTOMER_CREATED,
    "customer.updated": EventType.CUSTOMER_UPDATED,
    "payment_method.attached": EventType.PAYMENT_METHOD_ATTACHED,
    "payment_method.detached": EventType.PAYMENT_METHOD_DETACHED,
    "customer.subscription.created": EventType.SUBSCRIPTION_CREATED,
    "customer.subscription.updated": EventType.SUBSCRIPTION_UPDATED,
    "customer.subscription.deleted": EventType.SUBSCRIPTION_CANCELED,
    "customer.subscription.trial_will_end": EventType.TRIAL_WILL_END,
    "invoice.created": EventType.INVOICE_CREATED,
    "invoice.finalized": EventType.INVOICE_FINALIZED,
    "invoice.paid": EventType.INVOICE_PAID,
    # The same payment as invoice.paid, reported by a second event: the payment is
    # recorded once whichever comes first (once per payment reference).
    "invoice.payment_succeeded": EventType.INVOICE_PAID,
    "invoice.payment_failed": EventType.INVOICE_PAYMENT_FAILED,
    "invoice.voided": EventType.INVOICE_VOIDED,
    "invoice.marked_uncollectible": EventType.INVOICE_UNCOLLECTIBLE,
    "checkout.session.completed": EventType.CHECKOUT_COMPLETED,
    # A setup-mode checkout (a trial) completes with the card saved on its SetupIntent.
    "setup_intent.succeeded": EventType.CHECKOUT_COMPLETED,
    "checkout.session.expired": EventType.CHECKOUT_EXPIRED,
    "payment_intent.succeeded": EventType.PAYMENT_SUCCEEDED,
    "payment_intent.payment_failed": EventType.PAYMENT_FAILED,
    "charge.refunded": EventType.REFUND_SUCCEEDED,
}


def ref(value: object) -> str | None:
    """An id field that may be a plain id or an expanded object."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _currency(obj: Mapping[str, Any]) -> str | None:
    currency = obj.get("currency")
    return currency.upper() if isinstance(currency, str) else None


def _amount(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def normalize(event: Mapping[str, Any]) -> ProviderEvent:
    provider_type = str(event.get("type", ""))
    data = event.get("data")
    obj: Mapping[str, Any] = data.get("object", {}) if isinstance(data, Mapping) else {}
    base: dict[str, Any] = {
        "provider": "stripe",
        "event_id": str(event.get("id", "")),
        "type": STRIPE_TYPES.get(provider_type, EventType.UNKNOWN),
        "provider_type": provider_type,
        "object_ref": ref(obj) or "",
        "occurred_at": unix_time(event.get("created")),
        "raw": event,
        "currency": _currency(obj),
        "status": obj.get("status") if isinstance(obj.get("status"), str) else None,
        "references": references_from(obj.get("metadata")),
    }
    extract = _BY_OBJECT.get(str(obj.get("object", "")))
    if extract is not None:
        base.update(extract(obj, provider_type))
    if base.get("customer_ref") is None and isinstance(data, Mapping):
        before = data.get("previous_attributes")
        if isinstance(before, Mapping):
            base["customer_ref"] = ref(before.get("customer"))
    return ProviderEvent(**base)


def _customer(obj: Mapping[str, Any], _: str) -> dict[str, Any]:
    settings = obj.get("invoice_settings")
    default = settings.get("default_payment_method") if isinstance(settings, Mapping) else None
    # For a customer, payment_method_ref is its default (customer.updated mirrors it).
    return {"customer_ref": ref(obj), "payment_method_ref": ref(default)}


def _payment_method(obj: Mapping[str, Any], _: str) -> dict[str, Any]:
    # A detached method names no customer any more; the event's previous_attributes
    # does (read by normalize). Its tally_* references are its customer's, which the
    # adapter looks up (stripe_customer_refs.py): a method's own metadata has none.
    return {"customer_ref": ref(obj.get("customer")), "payment_method_ref": ref(obj)}


def _subscription(obj: Mapping[str, Any], _: str) -> dict[str, Any]:
    ending = obj.get("cancel_at_period_end")
    return {
        "customer_ref": ref(obj.get("customer")),
        "subscription_ref": ref(obj),
        "cancel_at_period_end": ending if isinstance(ending, bool) else None,
        **subscription_fields(obj),  # items and period, for a subscription Stripe runs
    }


def _invoice(obj: Mapping[str, Any], provider_type: str) -> dict[str, Any]:
    parent = obj.get("parent") if isinstance(obj.get("parent"), Mapping) else {}
    details = parent.get("subscription_details") if isinstance(parent, Mapping) else None
    details = details if isinstance(details, Mapping) else {}
    old_details = obj.get("subscription_details")
    references = {
        **references_from(old_details.get("metadata") if isinstance(old_details, Mapping) else {}),
        **references_from(details.get("metadata")),
        **references_from(obj.get("metadata")),
    }
    paid = STRIPE_TYPES.get(provider_type) is EventType.INVOICE_PAID
    return {
        "amount_minor": _amount(obj.get("amount_paid" if paid else "amount_due")),
        "customer_ref": ref(obj.get("customer")),
        "subscription_ref": ref(obj.get("subscription")) or ref(details.get("subscription")),
        # Old API versions name the intent on the invoice; current ones list the
        # invoice's payments (only when the invoice was expanded with them: a webhook
        # carries none, and the adapter asks Stripe, stripe_invoice_payments.py).
        "payment_ref": ref(obj.get("payment_intent")) or paid_payment_ref(obj.get("payments")),
        "references": references,
    }


def paid_payment_ref(payments: object) -> str | None:
    """The payment of the newest paid ``InvoicePayment`` in ``payments`` (a list object
    or its ``data``): its PaymentIntent, or its charge when it has no intent. None when
    none is paid."""
    rows = payments.get("data") if isinstance(payments, Mapping) else payments
    if not isinstance(rows, list):
        return None
    paid = [row for row in rows if isinstance(row, Mapping) and row.get("status") == "paid"]

    def paid_at(row: Mapping[str, Any]) -> int:
        moments = row.get("status_transitions")
        moment = moments.get("paid_at") if isinstance(moments, Mapping) else None
        return _amount(moment) or _amount(row.get("created")) or 0

    for row in sorted(paid, key=paid_at, reverse=True):
        payment = row.get("payment")
        if isinstance(payment, Mapping):
            found = ref(payment.get("payment_intent")) or ref(payment.get("charge"))
            if found:
                return found
    return None


def _checkout_session(obj: Mapping[str, Any], _: str) -> dict[str, Any]:
    references = references_from(obj.get("metadata"))
    client_reference = obj.get("client_reference_id")
    if isinstance(client_reference, str) and "tally_checkout" not in references:
        references["tally_checkout"] = client_reference
    return {
        "amount_minor": _amount(obj.get("amount_total")),
        "customer_ref": ref(obj.get("customer")),
        "subscription_ref": ref(obj.get("subscription")),
        "payment_ref": ref(obj.get("payment_intent")),
        "status": obj.get("payment_status") if isinstance(obj.get("payment_status"), str) else None,
        "references": references,
    }


def _setup_intent(obj: Mapping[str, Any], _: str) -> dict[str, Any]:
    return {
        "customer_ref": ref(obj.get("customer")),
        "payment_method_ref": ref(obj.get("payment_method")),
        "references": references_from(obj.get("metadata")),
    }


def _payment_intent(obj: Mapping[str, Any], provider_type: str) -> dict[str, Any]:
    error = obj.get("last_payment_error")
    reason = None
    if provider_type == "payment_intent.payment_failed" and isinstance(error, Mapping):
        reason = error.get("decline_code") or error.get("code") or error.get("type")
    received = _amount(obj.get("amount_received"))
    succeeded = provider_type == "payment_intent.succeeded"
    return {
        "amount_minor": received if succeeded and received else _amount(obj.get("amount")),
        "customer_ref": ref(obj.get("customer")),
        "payment_ref": ref(obj),
        "payment_method_ref": ref(obj.get("payment_method")),
        "failure_reason": str(reason) if reason else None,
    }


def _charge(obj: Mapping[str, Any], _: str) -> dict[str, Any]:
    # charge.refunded carries the charge, whose amount_refunded is a running total; the
    # refund that caused this event is the newest in ``refunds`` when Stripe includes it
    # (old API versions; current ones leave it out and the adapter lists the charge's
    # refunds, stripe_refund_refs.py). Its metadata says whether Tally asked for it
    # (``tally_refund_call``): such a refund is applied to its call, once.
    refunds = obj.get("refunds")
    listed = refunds.get("data") if isinstance(refunds, Mapping) else None
    rows = [r for r in listed if isinstance(r, Mapping)] if isinstance(listed, list) else []
    newest = max(rows, key=lambda r: _amount(r.get("created")) or 0) if rows else None
    return {
        "object_ref": ref(newest) or ref(obj) or "",
        "amount_minor": _amount(newest.get("amount")) if newest else None,
        "refunded_total_minor": _amount(obj.get("amount_refunded")),
        "customer_ref": ref(obj.get("customer")),
        "payment_ref": ref(obj.get("payment_intent")) or ref(obj),
        "references": {
            **references_from(obj.get("metadata")),
            **references_from(newest.get("metadata") if newest else None),
        },
        "own_refunds": own_refunds(rows),
    }


# Refunds that count in a charge's amount_refunded (a failed or canceled one is taken
# out of it again).
COUNTED = ("succeeded", "pending", "requires_action")


def own_refunds(rows: list[Mapping[str, Any]]) -> dict[str, str]:
    """The refunds among ``rows`` that Tally asked for and the charge's running total
    counts: their refund call's id to the refund's id."""
    found: dict[str, str] = {}
    for row in rows:
        metadata = row.get("metadata")
        call = metadata.get("tally_refund_call") if isinstance(metadata, Mapping) else None
        refund = ref(row)
        if isinstance(call, str) and refund and row.get("status") in COUNTED:
            found[call] = refund
    return found


_BY_OBJECT = {
    "customer": _customer,
    "subscription": _subscription,
    "invoice": _invoice,
    "checkout.session": _checkout_session,
    "payment_intent": _payment_intent,
    "setup_intent": _setup_intent,
    "payment_method": _payment_method,
    "charge": _charge,
}
