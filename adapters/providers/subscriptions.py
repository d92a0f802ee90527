"""What Tally needs from a provider that runs subscriptions (Stripe, Paddle).

The agnostic-monetization interface in Tally's words: create, change (items, cancel now
or at the period end, undo the cancel) and fetch an invoice. Webhooks bring the results
back through ``PaymentProvider.parse_webhook`` as for every other object. A provider
without a subscription API (YooKassa, the stub) does not implement this protocol, and a
project cannot hand its subscriptions to it (``commands/provider_subscriptions.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class SubscriptionItem:
    price_ref: str
    quantity: int


@dataclass(frozen=True)
class SubscriptionRequest:
    customer_ref: str
    items: tuple[SubscriptionItem, ...]
    currency: str
    idempotency_key: str
    trial_days: int = 0
    payment_method_ref: str | None = None
    references: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderSubscription:
    """The provider's answer: its id and status, and (Paddle) where the customer pays
    the first period when no subscription exists until then (``checkout_url``)."""

    provider: str
    subscription_ref: str
    status: str
    checkout_url: str | None = None


@dataclass(frozen=True)
class InvoiceLine:
    """One line as the provider billed it: its amount (before discounts, without
    exclusive tax), quantity, what its discounts took off, its tax and the part of that
    tax already in the amount (inclusive), and whether it is a proration."""

    description: str
    amount_minor: int
    quantity: int
    price_ref: str | None = None
    discount_minor: int = 0
    tax_minor: int = 0
    inclusive_tax_minor: int = 0
    proration: bool = False


@dataclass(frozen=True)
class ProviderInvoice:
    """An invoice (Paddle: a transaction) of a provider-run subscription, as Tally
    mirrors it: its lines, totals, what was paid and by which payment."""

    provider: str
    invoice_ref: str
    subscription_ref: str | None
    status: str
    currency: str
    lines: tuple[InvoiceLine, ...]
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    amount_paid_minor: int
    payment_ref: str | None
    number: str | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    # What the customer's balance at the provider paid of the invoice (Stripe's
    # ``ending_balance - starting_balance``): positive, credit the balance held took off
    # what was due; negative, what a negative total (or a debt carried) added to it.
    balance_applied_minor: int = 0


@runtime_checkable
class SubscriptionProvider(Protocol):
    """Implemented by the adapters of providers that run subscriptions."""

    name: str

    def create_subscription(self, request: SubscriptionRequest) -> ProviderSubscription: ...

    def change_subscription_items(
        self,
        subscription_ref: str,
        items: tuple[SubscriptionItem, ...],
        *,
        prorate: bool,
        idempotency_key: str,
    ) -> None: ...

    def cancel_subscription(
        self, subscription_ref: str, *, at_period_end: bool, idempotency_key: str
    ) -> None: ...

    def undo_cancel_subscription(self, subscription_ref: str, *, idempotency_key: str) -> None: ...

    def get_invoice(self, invoice_ref: str) -> ProviderInvoice: ...
