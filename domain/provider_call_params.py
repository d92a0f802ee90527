"""What Tally asks a payment provider: one typed class per provider-call operation.

A command builds one (``ChargeParams(...)``) and hands it to ``ProviderCall.request``,
which records it in ``ProviderCall.Requested`` as a plain dict (``to_params``); the
outbox reads it back with ``ProviderCall.request_params`` (``parse_params``) and makes
the call from the typed value, reading no key by name.

The dict is stored in events, so it is a format that never changes. ``to_params`` writes
the keys the handlers wrote before these classes existed, with the same values (only the
order of the keys may differ, which JSON does not keep as meaning). ``from_params``
reads every dict an older version recorded: the keys the outbox always needed are
required, the others may be absent (each field's comment says since when it is there).
An optional key is written only when it has a value, except where a field says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from domain.provider_subscription_params import SUBSCRIPTION_PARAMS, SubscriptionParams

Params = dict[str, Any]


def _references(raw: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (raw.get("references") or {}).items()}


def _text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return None if value is None else str(value)


def _optional(**values: Any) -> Params:
    return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class CreateCustomerParams:
    """Make the provider's customer for a Tally customer (``commands/provider_customers``)."""

    OPERATION: ClassVar[str] = "create_customer"
    customer_id: str
    email: str | None
    name: str | None
    references: dict[str, str] = field(default_factory=dict)

    def to_params(self) -> Params:
        return {
            "customer_id": self.customer_id,
            "email": self.email,
            "name": self.name,
            "references": self.references,
        }

    @classmethod
    def from_params(cls, raw: Mapping[str, Any]) -> CreateCustomerParams:
        return cls(
            customer_id=str(raw["customer_id"]),
            email=_text(raw, "email"),
            name=_text(raw, "name"),
            references=_references(raw),
        )


@dataclass(frozen=True)
class CheckoutLine:
    name: str
    unit_amount: int
    currency: str
    quantity: int

    def to_params(self) -> Params:
        return {
            "name": self.name,
            "unit_amount": self.unit_amount,
            "currency": self.currency,
            "quantity": self.quantity,
        }

    @classmethod
    def from_params(cls, raw: Mapping[str, Any]) -> CheckoutLine:
        return cls(
            name=str(raw["name"]),
            unit_amount=int(raw["unit_amount"]),
            currency=str(raw["currency"]),
            quantity=int(raw["quantity"]),
        )


@dataclass(frozen=True)
class CheckoutParams:
    """A hosted checkout page: a sale, a wallet top-up, a subscription's first period or
    (``setup`` with ``trial_days``) a trial's payment method (``commands/checkout.py``)."""

    OPERATION: ClassVar[str] = "checkout"
    mode: str
    lines: tuple[CheckoutLine, ...]
    success_url: str
    cancel_url: str
    # The provider's customer; None while the call waits for ``customer_call`` (the
    # ``create_customer`` call of Tally customer ``customer_id``), or with no customer.
    customer_ref: str | None
    references: dict[str, str] = field(default_factory=dict)
    # The ledger Transaction a sale or top-up completes; written as null for a
    # subscription's checkout (its invoice is what gets paid).
    transaction_id: str | None = None
    customer_id: str | None = None
    customer_call: str | None = None
    trial_days: int | None = None

    @property
    def amount_minor(self) -> int:
        return sum(line.unit_amount * line.quantity for line in self.lines)

    @property
    def currency(self) -> str:
        return self.lines[0].currency

    def to_params(self) -> Params:
        return {
            "mode": self.mode,
            "lines": [line.to_params() for line in self.lines],
            "success_url": self.success_url,
            "cancel_url": self.cancel_url,
            "customer_ref": self.customer_ref,
            **_optional(customer_id=self.customer_id, customer_call=self.customer_call),
            "transaction_id": self.transaction_id,
            # Derived from the lines, and stored for the provider_calls read model.
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            **_optional(trial_days=self.trial_days),
            "references": self.references,
        }

    @classmethod
    def from_params(cls, raw: Mapping[str, Any]) -> CheckoutParams:
        return cls(
            mode=str(raw["mode"]),
            lines=tuple(CheckoutLine.from_params(line) for line in raw["lines"]),
            success_url=str(raw["success_url"]),
            cancel_url=str(raw["cancel_url"]),
            customer_ref=_text(raw, "customer_ref"),
            references=_references(raw),
            transaction_id=_text(raw, "transaction_id"),
            customer_id=_text(raw, "customer_id"),
            customer_call=_text(raw, "customer_call"),
            trial_days=int(raw["trial_days"]) if raw.get("trial_days") else None,
        )


@dataclass(frozen=True)
class ChargeParams:
    """An off-session charge of a saved payment method: an invoice's (automatic, asked
    for, or a dunning retry: ``commands/invoice_charges.py``) or a wallet top-up's."""

    OPERATION: ClassVar[str] = "charge"
    # None only while the call waits for ``customer_call`` (see CheckoutParams).
    customer_ref: str | None
    payment_method_ref: str
    amount_minor: int
    currency: str
    description: str = ""
    references: dict[str, str] = field(default_factory=dict)
    # The ledger Transaction the charge pays; absent from invoice charges recorded
    # before invoice charges had one.
    transaction_id: str | None = None
    # An invoice's charge: the invoice, whether it is a dunning retry, which attempt.
    invoice_id: str | None = None
    retry: bool | None = None
    attempt: int | None = None
    # The Tally customer: an invoice's, or the one whose ``customer_call`` this waits for.
    customer_id: str | None = None
    customer_call: str | None = None

    def to_params(self) -> Params:
        return {
            **_optional(invoice_id=self.invoice_id, transaction_id=self.transaction_id),
            **_optional(customer_id=self.customer_id),
            "customer_ref": self.customer_ref,
            **_optional(customer_call=self.customer_call),
            "payment_method_ref": self.payment_method_ref,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "description": self.description,
            **_optional(retry=self.retry, attempt=self.attempt),
            "references": self.references,
        }

    @classmethod
    def from_params(cls, raw: Mapping[str, Any]) -> ChargeParams:
        return cls(
            customer_ref=_text(raw, "customer_ref"),
            payment_method_ref=str(raw["payment_method_ref"]),
            amount_minor=int(raw["amount_minor"]),
            currency=str(raw["currency"]),
            description=str(raw.get("description") or ""),
            references=_references(raw),
            transaction_id=_text(raw, "transaction_id"),
            invoice_id=_text(raw, "invoice_id"),
            retry=bool(raw["retry"]) if "retry" in raw else None,
            attempt=int(raw["attempt"]) if raw.get("attempt") is not None else None,
            customer_id=_text(raw, "customer_id"),
            customer_call=_text(raw, "customer_call"),
        )


@dataclass(frozen=True)
class RefundParams:
    """Give back (part of) a provider payment: a transaction's refund, a charge the
    invoice could no longer take, or a credit note's refund."""

    OPERATION: ClassVar[str] = "refund"
    payment_ref: str
    amount_minor: int
    currency: str
    reason: str = ""
    references: dict[str, str] = field(default_factory=dict)
    # A payment's refund names its Transaction, which it reverses; written even when
    # null (a charge recorded before charges had one).
    transaction_id: str | None = None
    # A credit note's refund names the invoice and the note instead.
    invoice_id: str | None = None
    credit_note: str | None = None

    def to_params(self) -> Params:
        refunded = (
            {"transaction_id": self.transaction_id}
            if self.credit_note is None
            else {"invoice_id": self.invoice_id, "credit_note": self.credit_note}
        )
        return {
            "payment_ref": self.payment_ref,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "reason": self.reason,
            **refunded,
            "references": self.references,
        }

    @classmethod
    def from_params(cls, raw: Mapping[str, Any]) -> RefundParams:
        return cls(
            payment_ref=str(raw["payment_ref"]),
            amount_minor=int(raw["amount_minor"]),
            currency=str(raw["currency"]),
            reason=str(raw.get("reason") or ""),
            references=_references(raw),
            transaction_id=_text(raw, "transaction_id"),
            invoice_id=_text(raw, "invoice_id"),
            credit_note=_text(raw, "credit_note"),
        )


@dataclass(frozen=True)
class CancelCheckoutParams:
    """End a hosted checkout nobody finished (``commands/checkout_expiry.py``): the
    provider cancels its transaction (Paddle's ``session_ref``, ``txn_...``) so that
    nothing can be paid on it any more, and only then is the Tally transaction failed."""

    OPERATION: ClassVar[str] = "cancel_checkout"
    session_ref: str
    transaction_id: str
    references: dict[str, str] = field(default_factory=dict)

    def to_params(self) -> Params:
        return {
            "session_ref": self.session_ref,
            "transaction_id": self.transaction_id,
            "references": self.references,
        }

    @classmethod
    def from_params(cls, raw: Mapping[str, Any]) -> CancelCheckoutParams:
        return cls(
            session_ref=str(raw["session_ref"]),
            transaction_id=str(raw["transaction_id"]),
            references=_references(raw),
        )


PAYMENT_METHOD_ACTIONS = ("attach", "detach", "set_default")


@dataclass(frozen=True)
class PaymentMethodParams:
    """Keep a saved payment method in step at the provider (issue 18): attach it to the
    provider's customer, detach it, or make it the customer's default there
    (``commands/payment_methods.py``). Recorded since issue 18; no older shapes."""

    OPERATION: ClassVar[str] = "payment_method"
    action: str  # one of PAYMENT_METHOD_ACTIONS
    payment_method_ref: str
    # The provider's customer (attach, set_default); None while the call waits for
    # ``customer_call``, and for a detach, which names only the method.
    customer_ref: str | None
    customer_id: str
    customer_call: str | None = None
    references: dict[str, str] = field(default_factory=dict)

    def to_params(self) -> Params:
        return {
            "action": self.action,
            "payment_method_ref": self.payment_method_ref,
            "customer_ref": self.customer_ref,
            "customer_id": self.customer_id,
            **_optional(customer_call=self.customer_call),
            "references": self.references,
        }

    @classmethod
    def from_params(cls, raw: Mapping[str, Any]) -> PaymentMethodParams:
        return cls(
            action=str(raw["action"]),
            payment_method_ref=str(raw["payment_method_ref"]),
            customer_ref=_text(raw, "customer_ref"),
            customer_id=str(raw["customer_id"]),
            customer_call=_text(raw, "customer_call"),
            references=_references(raw),
        )


ProviderParams = (
    CreateCustomerParams
    | CheckoutParams
    | ChargeParams
    | RefundParams
    | PaymentMethodParams
    | CancelCheckoutParams
    | SubscriptionParams
)
# The calls that may wait for their customer's ``create_customer`` call.
CustomerParams = CheckoutParams | ChargeParams | PaymentMethodParams

PARAMS_BY_OPERATION: dict[str, type[ProviderParams]] = {
    cls.OPERATION: cls
    for cls in (
        CreateCustomerParams,
        CheckoutParams,
        ChargeParams,
        RefundParams,
        PaymentMethodParams,
        CancelCheckoutParams,
    )
}
# Provider-run subscriptions' calls (domain/provider_subscription_params.py).
PARAMS_BY_OPERATION |= {cls.OPERATION: cls for cls in SUBSCRIPTION_PARAMS}


def parse_params(operation: str, raw: Mapping[str, Any]) -> ProviderParams:
    """The typed params of a call recorded as ``operation`` with ``raw``."""
    return PARAMS_BY_OPERATION[operation].from_params(raw)
