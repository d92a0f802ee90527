"""The provider-neutral vocabulary of payment provider events.

Part of the provider port that ``commands`` declares: the webhook handlers
(``commands/webhook_effects.py``, ``commands/webhook_subscriptions.py``) act on these
types, and each provider adapter (``adapters/providers/*_events.py``) maps its own event
types onto them. The values are stored with received webhook events: never change one.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """Tally's provider-neutral vocabulary. A provider type without a mapping becomes
    UNKNOWN: recorded for audit, translated into nothing."""

    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    REFUND_SUCCEEDED = "refund.succeeded"
    # A refund the provider held for review and then refused (Paddle's rejected
    # adjustment): the transaction stays as it was.
    REFUND_FAILED = "refund.failed"
    CHECKOUT_COMPLETED = "checkout.completed"
    CHECKOUT_CANCELED = "checkout.canceled"
    CHECKOUT_EXPIRED = "checkout.expired"
    SUBSCRIPTION_CREATED = "subscription.created"
    SUBSCRIPTION_UPDATED = "subscription.updated"
    SUBSCRIPTION_CANCELED = "subscription.canceled"
    TRIAL_WILL_END = "trial_will_end"
    INVOICE_CREATED = "invoice.created"
    INVOICE_FINALIZED = "invoice.finalized"
    INVOICE_PAID = "invoice.paid"
    INVOICE_PAYMENT_FAILED = "invoice.payment_failed"
    # The provider voided its invoice, or gave up collecting it (Stripe's
    # ``invoice.voided``, ``invoice.marked_uncollectible``): mirrored for the invoices
    # of subscriptions it runs (commands/provider_invoices.py).
    INVOICE_VOIDED = "invoice.voided"
    INVOICE_UNCOLLECTIBLE = "invoice.marked_uncollectible"
    CUSTOMER_CREATED = "customer.created"
    # The provider's own changes to a customer's saved methods (issue 18): mirrored into
    # Tally's payment methods. ``customer.updated`` carries the customer's default.
    CUSTOMER_UPDATED = "customer.updated"
    PAYMENT_METHOD_ATTACHED = "payment_method.attached"
    PAYMENT_METHOD_DETACHED = "payment_method.detached"
    UNKNOWN = "unknown"
