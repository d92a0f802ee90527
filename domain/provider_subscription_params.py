"""What Tally asks a provider about a subscription the provider runs: the typed params
of the provider calls ``create_subscription``, ``change_subscription`` and
``get_invoice`` (``domain/provider_call_params.py`` has the others and the registry).

Like every call's params they are recorded in ``ProviderCall.Requested`` as a plain dict
and read back by the outbox, so the dict is a stored format: keys are only ever added.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

Params = dict[str, Any]

# What ``change_subscription`` asks for, as ``action``.
CHANGE_ITEMS, CANCEL, CANCEL_AT_PERIOD_END, UNDO_CANCEL = (
    "change_items",
    "cancel",
    "cancel_at_period_end",
    "undo_cancel",
)
ACTIONS = (CHANGE_ITEMS, CANCEL, CANCEL_AT_PERIOD_END, UNDO_CANCEL)


def _references(raw: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (raw.get("references") or {}).items()}


def _text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return None if value is None else str(value)


@dataclass(frozen=True)
class SubscriptionLine:
    """One item: the provider's price and the quantity."""

    price_ref: str
    quantity: int

    def to_params(self) -> Params:
        return {"price_ref": self.price_ref, "quantity": self.quantity}

    @classmethod
    def from_params(cls, raw: Mapping[str, Any]) -> SubscriptionLine:
        return cls(price_ref=str(raw["price_ref"]), quantity=int(raw["quantity"]))


@dataclass(frozen=True)
class CreateSubscriptionParams:
    """Start a subscription at the provider for a Tally subscription it will run."""

    OPERATION: ClassVar[str] = "create_subscription"
    subscription_id: str
    lines: tuple[SubscriptionLine, ...]
    currency: str
    # The provider's customer; None while the call waits for ``customer_call``.
    customer_ref: str | None
    customer_id: str | None = None
    customer_call: str | None = None
    trial_days: int = 0
    # The saved payment method the provider charges, when Tally knows one there.
    payment_method_ref: str | None = None
    references: dict[str, str] = field(default_factory=dict)

    def to_params(self) -> Params:
        return {
            "subscription_id": self.subscription_id,
            "lines": [line.to_params() for line in self.lines],
            "currency": self.currency,
            "customer_ref": self.customer_ref,
            "customer_id": self.customer_id,
            "customer_call": self.customer_call,
            "trial_days": self.trial_days,
            "payment_method_ref": self.payment_method_ref,
            "references": self.references,
        }

    @classmethod
    def from_params(cls, raw: Mapping[str, Any]) -> CreateSubscriptionParams:
        return cls(
            subscription_id=str(raw["subscription_id"]),
            lines=tuple(SubscriptionLine.from_params(line) for line in raw["lines"]),
            currency=str(raw["currency"]),
            customer_ref=_text(raw, "customer_ref"),
            customer_id=_text(raw, "customer_id"),
            customer_call=_text(raw, "customer_call"),
            trial_days=int(raw.get("trial_days") or 0),
            payment_method_ref=_text(raw, "payment_method_ref"),
            references=_references(raw),
        )


@dataclass(frozen=True)
class ChangeSubscriptionParams:
    """Change a provider-run subscription: its items (``lines``, with the provider's
    proration or none), a cancel now or at the period end, or undo that cancel."""

    OPERATION: ClassVar[str] = "change_subscription"
    subscription_id: str
    subscription_ref: str
    action: str
    lines: tuple[SubscriptionLine, ...] = ()
    prorate: bool = True
    references: dict[str, str] = field(default_factory=dict)

    def to_params(self) -> Params:
        return {
            "subscription_id": self.subscription_id,
            "subscription_ref": self.subscription_ref,
            "action": self.action,
            "lines": [line.to_params() for line in self.lines],
            "prorate": self.prorate,
            "references": self.references,
        }

    @classmethod
    def from_params(cls, raw: Mapping[str, Any]) -> ChangeSubscriptionParams:
        return cls(
            subscription_id=str(raw["subscription_id"]),
            subscription_ref=str(raw["subscription_ref"]),
            action=str(raw["action"]),
            lines=tuple(SubscriptionLine.from_params(line) for line in raw.get("lines") or ()),
            prorate=bool(raw.get("prorate", True)),
            references=_references(raw),
        )


@dataclass(frozen=True)
class GetInvoiceParams:
    """Fetch an invoice of a provider-run subscription, to mirror it as a Tally invoice."""

    OPERATION: ClassVar[str] = "get_invoice"
    subscription_id: str
    invoice_ref: str
    references: dict[str, str] = field(default_factory=dict)

    def to_params(self) -> Params:
        return {
            "subscription_id": self.subscription_id,
            "invoice_ref": self.invoice_ref,
            "references": self.references,
        }

    @classmethod
    def from_params(cls, raw: Mapping[str, Any]) -> GetInvoiceParams:
        return cls(
            subscription_id=str(raw["subscription_id"]),
            invoice_ref=str(raw["invoice_ref"]),
            references=_references(raw),
        )


SubscriptionParams = CreateSubscriptionParams | ChangeSubscriptionParams | GetInvoiceParams
SUBSCRIPTION_PARAMS: tuple[type[SubscriptionParams], ...] = (
    CreateSubscriptionParams,
    ChangeSubscriptionParams,
    GetInvoiceParams,
)
