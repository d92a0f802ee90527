"""What a provider's payment reference looks like, per provider.

A payment's reference is what a refund names later (Stripe ``payment_intent=pi_...``,
Paddle ``transaction_id=txn_...``, YooKassa ``payment_id``). An id of another kind
recorded in its place (a Stripe invoice ``in_...``, a checkout session ``cs_...``, an
event ``evt_...``) is accepted without a word when it is recorded and refused by the
provider when the refund is asked for, after the credit note moved the money: so the
kind is checked when a provider payment is recorded, and a reference of the wrong kind
is refused then (``WrongPaymentReference``).

A provider not listed here (a new one) is not checked; an out-of-band payment's
reference is the caller's own text and is not checked either.
"""

from __future__ import annotations

import re

from domain.errors import WrongPaymentReference

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_STRIPE = r"(?:pi|ch|py)_[A-Za-z0-9_]+"

# Whole-match patterns, ASCII classes only.
PAYMENT_REF_PATTERNS: dict[str, re.Pattern[str]] = {
    # A PaymentIntent, or a charge (``ch_``; ``py_`` for some payment methods) where
    # there is no intent: what POST /v1/refunds takes.
    "stripe": re.compile(_STRIPE),
    # A transaction: what an adjustment (refund) names.
    "paddle": re.compile(r"txn_[a-z0-9]{26}"),
    # A payment: what POST /v3/refunds names.
    "yookassa": re.compile(_UUID),
    # The stub's own payments, and Stripe's formats, which the stub imitates.
    "stub": re.compile(rf"stub_pi_[0-9a-f]{{24}}|{_STRIPE}"),
}

DESCRIBED = {
    "stripe": "a Stripe PaymentIntent (pi_...) or charge (ch_..., py_...)",
    "paddle": "a Paddle transaction (txn_...)",
    "yookassa": "a YooKassa payment id (a UUID)",
    "stub": "a stub payment (stub_pi_...) or a Stripe-style payment id",
}


def is_payment_ref(provider: str, reference: str) -> bool:
    pattern = PAYMENT_REF_PATTERNS.get(provider)
    return pattern is None or pattern.fullmatch(reference) is not None


def check_payment_ref(provider: str, reference: str) -> None:
    """Refuse ``reference`` as a payment of ``provider`` unless it is of the kind that
    provider's refunds name."""
    if not is_payment_ref(provider, reference):
        raise WrongPaymentReference(
            f"{reference[:80]!r} is not {DESCRIBED[provider]}: it cannot be recorded as "
            f"a {provider} payment, since a refund of it would be refused",
            provider=provider,
            reference=reference[:80],
        )
