"""One interface for every payment provider, and the normalized events they report.

Tally never talks to Stripe, Paddle or YooKassa directly: commands ask a
``PaymentProvider`` to create a customer, open a hosted checkout, charge a saved payment
method or refund, and the webhook endpoint asks it to turn a raw delivery into verified
``ProviderEvent``s in one small vocabulary. Switching providers is then a setting.

Every call that can move money takes an idempotency key derived from Tally ids (see
``idempotency_key``) and hands it to the provider, so a retry after a timeout finds the
first attempt instead of charging twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from commands.provider_errors import (
    CardDeclined,
    InvalidSignature,
    PaymentRequiresAction,
    ProviderError,
    ProviderMisconfigured,
    ProviderRejected,
    ProviderUnavailable,
    ProviderUnsupported,
)
from commands.provider_events import EventType

__all__ = [
    "CardDeclined",
    "ChargeOutcome",
    "ChargeRequest",
    "CheckoutMode",
    "CheckoutRequest",
    "CheckoutSession",
    "CustomerRequest",
    "InvalidSignature",
    "LineItem",
    "PaymentMethodRequest",
    "PaymentMethodSync",
    "PaymentProvider",
    "PaymentRequiresAction",
    "PortalSession",
    "ProviderCustomer",
    "ProviderError",
    "ProviderEvent",
    "ProviderMisconfigured",
    "ProviderRejected",
    "ProviderUnavailable",
    "ProviderUnsupported",
    "RefundOutcome",
    "RefundRequest",
    "idempotency_key",
    "references_from",
]

# Metadata keys Tally writes on provider objects start with this, so a webhook can be
# traced back to the Tally objects that asked for it (tally_project, tally_transaction,
# tally_invoice, tally_customer, tally_subscription, tally_cart, ...).
REFERENCE_PREFIX = "tally_"


class CheckoutMode(StrEnum):
    SUBSCRIPTION = "subscription"
    ITEM = "item"
    CART = "cart"
    # Save a payment method and charge nothing (a subscription that starts with a trial).
    SETUP = "setup"


def idempotency_key(*parts: UUID | str | int) -> str:
    """The provider idempotency key for one attempt of one Tally operation, e.g.
    ``idempotency_key(transaction_id, attempt)`` -> ``"tally:<uuid>:1"``. Same Tally ids,
    same key: that is what makes a retry safe."""
    assert parts, "an idempotency key needs at least one Tally id"
    text = ":".join(str(part) for part in parts)
    return f"tally:{text}"


def references_from(metadata: object) -> dict[str, str]:
    """The Tally references (``tally_*`` keys) in a provider object's metadata."""
    if not isinstance(metadata, Mapping):
        return {}
    return {
        str(key): str(value)
        for key, value in metadata.items()
        if str(key).startswith(REFERENCE_PREFIX) and value is not None
    }


@dataclass(frozen=True)
class LineItem:
    """One line of a checkout. ``price_ref`` names a price in the provider's catalogue;
    without one, ``name`` and ``unit_amount_minor`` describe an ad-hoc price."""

    name: str
    unit_amount_minor: int
    currency: str
    quantity: int = 1
    price_ref: str | None = None

    @property
    def total_minor(self) -> int:
        return self.unit_amount_minor * self.quantity


@dataclass(frozen=True)
class CustomerRequest:
    idempotency_key: str
    email: str | None = None
    name: str | None = None
    references: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderCustomer:
    provider: str
    customer_ref: str


@dataclass(frozen=True)
class CheckoutRequest:
    mode: CheckoutMode
    lines: tuple[LineItem, ...]
    success_url: str
    cancel_url: str
    idempotency_key: str
    customer_ref: str | None = None
    references: Mapping[str, str] = field(default_factory=dict)
    trial_days: int = 0  # SETUP: the trial its completion starts

    @property
    def currency(self) -> str:
        currencies = {line.currency for line in self.lines}
        assert len(currencies) == 1, f"one currency per checkout, got {sorted(currencies)}"
        return currencies.pop()

    @property
    def total_minor(self) -> int:
        return sum(line.total_minor for line in self.lines)


@dataclass(frozen=True)
class CheckoutSession:
    provider: str
    session_ref: str
    url: str


@dataclass(frozen=True)
class PortalSession:
    provider: str
    url: str


@dataclass(frozen=True)
class ChargeRequest:
    """An off-session charge of a saved payment method (the customer is not present)."""

    customer_ref: str
    payment_method_ref: str
    amount_minor: int
    currency: str
    idempotency_key: str
    description: str = ""
    references: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChargeOutcome:
    """``status`` is ``succeeded`` or ``processing`` (the provider confirms later by
    webhook). Declines and required actions are raised, never returned."""

    provider: str
    payment_ref: str
    status: str
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class RefundRequest:
    payment_ref: str
    amount_minor: int
    currency: str
    idempotency_key: str
    reason: str = ""
    references: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundOutcome:
    provider: str
    refund_ref: str
    status: str
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class ProviderEvent:
    """One verified webhook event in Tally's vocabulary.

    ``event_id`` is the provider's id for the delivery's event (the same event delivered
    twice has the same id; deduplication is the webhook endpoint's job). ``object_ref`` is
    the provider id of the object the event is about. ``amount_minor`` is the amount the
    event is about in minor units (for refunds: this refund, when the provider says);
    ``refunded_total_minor`` is the total refunded so far on the payment when the
    provider reports a running total instead (Stripe's ``charge.refunded``), and
    ``own_refunds`` the refunds of Tally's that total counts (its refund call's id to the
    provider's refund id): reversing by the total settles their calls too.
    ``items`` and ``period_start`` describe a provider-run subscription's plan and
    period (None when the event does not say).
    ``status`` is the object's own status in the provider's words (a subscription's
    ``active``, ``past_due``, ``unpaid``, ``canceled``...); ``cancel_at_period_end`` says,
    for a subscription, whether the provider will cancel it when its period ends (None
    when the event is not about a subscription).
    """

    provider: str
    event_id: str
    type: EventType
    provider_type: str
    object_ref: str
    occurred_at: datetime | None
    raw: Mapping[str, Any]
    amount_minor: int | None = None
    currency: str | None = None
    status: str | None = None
    customer_ref: str | None = None
    subscription_ref: str | None = None
    payment_ref: str | None = None
    payment_method_ref: str | None = None
    failure_reason: str | None = None
    refunded_total_minor: int | None = None
    own_refunds: Mapping[str, str] = field(default_factory=dict)
    cancel_at_period_end: bool | None = None
    references: Mapping[str, str] = field(default_factory=dict)
    # A subscription's items (``{"price_ref", "quantity"}``, the provider's prices) and
    # the start of its current period, when the event carries them.
    items: tuple[Mapping[str, Any], ...] | None = None
    period_start: datetime | None = None


@dataclass(frozen=True)
class PaymentMethodRequest:
    """Keep a saved method in step at the provider: ``action`` is ``attach`` (to
    ``customer_ref``), ``detach``, or ``set_default`` (the customer's default for the
    payments the provider collects itself)."""

    action: str
    payment_method_ref: str
    idempotency_key: str
    customer_ref: str | None = None


@runtime_checkable
class PaymentMethodSync(Protocol):
    """What a provider that keeps customers' saved methods offers to keep them in step
    with Tally's (Stripe: all three actions; Paddle: detach). ``actions`` lists what it
    can do; asking for another raises ``ProviderUnsupported``."""

    payment_method_actions: tuple[str, ...]

    def sync_payment_method(self, request: PaymentMethodRequest) -> None: ...


@runtime_checkable
class CheckoutCancel(Protocol):
    """What a provider whose hosted checkout never expires on its own offers (Paddle: a
    ``ready`` transaction stays payable): cancel it, under the call's key, so Tally can
    end a checkout nobody finished (``commands/checkout_expiry.py``). A checkout already
    paid is refused (``ProviderRejected``), and Tally then leaves it to its payment."""

    def cancel_checkout(self, session_ref: str, idempotency_key: str) -> None: ...


@runtime_checkable
class PaymentProvider(Protocol):
    """What Tally needs from a payment provider.

    ``manages_subscriptions`` says whether the provider runs subscriptions itself (Stripe,
    Paddle: Tally mirrors them from webhooks) or Tally does and charges saved payment
    methods on renewal (YooKassa, stub). ``cancel_subscription`` is only called on the
    first kind; the others raise ``ProviderUnsupported``.
    """

    name: str
    manages_subscriptions: bool

    def create_customer(self, request: CustomerRequest) -> ProviderCustomer: ...

    def create_checkout_session(self, request: CheckoutRequest) -> CheckoutSession: ...

    def create_portal_session(self, customer_ref: str, return_url: str) -> PortalSession: ...

    def charge(self, request: ChargeRequest) -> ChargeOutcome: ...

    def refund(self, request: RefundRequest) -> RefundOutcome: ...

    def cancel_subscription(
        self, subscription_ref: str, *, at_period_end: bool, idempotency_key: str
    ) -> None: ...

    def parse_webhook(
        self,
        headers: Mapping[str, str],
        raw_body: bytes,
        *,
        source_address: str | None = None,
    ) -> list[ProviderEvent]:
        """Verify a delivery and return its events, or raise ``InvalidSignature``
        (nothing may be recorded) or ``ProviderUnavailable`` (ask for a redelivery)."""
        ...


class Clock(Protocol):
    """Where providers read the time for webhook tolerance windows (adapters/clock.py)."""

    def now(self) -> datetime: ...


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """HTTP header names are case-insensitive; providers and frameworks spell them
    differently, so lookups go through lower-cased names."""
    return {key.lower(): value for key, value in headers.items()}
