"""Credit notes: the rules for how much an invoice can be credited, and where it goes.

A credit note reverses revenue and tax in proportion to the invoice's totals
(``domain.invoice_entries.credit_note_entry``). Where the money goes (``refund_to``):

- ``none``: it lowers what the customer still owes (at most ``amount_remaining``); an
  open invoice with nothing left to pay becomes paid;
- ``credit_balance``: to the customer's credit balance (at most what was paid and not
  yet refunded);
- ``original_payment``: back to the payment it refunds (at most that payment's
  unrefunded amount): its provider's clearing account, or the wallet it came from (the
  handler then moves it from the receivable into the wallet with a ledger transaction).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from domain.customer_billing import credit_ref
from domain.errors import CreditExceedsPaid, InvalidTransition, NotRefundable, ValidationFailed
from domain.invoice_entries import receivable_ref
from domain.money import check_amount

REFUND_TO = ("none", "credit_balance", "original_payment")
CREDITABLE = ("open", "paid", "uncollectible")


class CreditedInvoice(Protocol):
    """What these rules read of an invoice (``domain.invoices.Invoice``, through its
    settlement commands), named here so this module need not import the aggregate that
    calls it (no import cycle)."""

    @property
    def customer_id(self) -> UUID: ...
    @property
    def status(self) -> str: ...
    @property
    def amount_paid(self) -> int: ...
    @property
    def amount_refunded(self) -> int: ...
    @property
    def amount_remaining(self) -> int: ...
    @property
    def payments(self) -> list[dict[str, Any]]: ...


def refundable(invoice: CreditedInvoice) -> int:
    return invoice.amount_paid - invoice.amount_refunded


def pick_payment(invoice: CreditedInvoice, amount: int, payment_id: str | None) -> dict[str, Any]:
    """The payment a refund of ``amount`` goes back to: the one named, else the latest
    with enough left to refund."""
    candidates = [p for p in invoice.payments if payment_id in (None, p["id"])]
    if payment_id is not None and not candidates:
        raise ValidationFailed(f"payment {payment_id} is not on this invoice")
    for payment in reversed(candidates):
        if payment["amount"] - payment["refunded"] >= amount:
            found: dict[str, Any] = payment
            return found
    left = max((p["amount"] - p["refunded"] for p in candidates), default=0)
    raise CreditExceedsPaid(
        f"cannot refund {amount} to one payment: at most {left} of a payment is left to refund",
        refundable=left,
    )


def check_credit(
    invoice: CreditedInvoice, amount: int, refund_to: str, payment_id: str | None = None
) -> dict[str, Any] | None:
    """Raise unless the credit note is allowed; returns the payment it refunds, if any."""
    if invoice.status not in CREDITABLE:
        raise InvalidTransition(
            f"cannot credit an invoice that is {invoice.status}",
            state=invoice.status,
            trigger="credit",
        )
    check_amount(amount)
    if refund_to not in REFUND_TO:
        raise ValidationFailed(f"refund_to must be one of {', '.join(REFUND_TO)}")
    if refund_to == "none":
        if amount > invoice.amount_remaining:
            raise CreditExceedsPaid(
                f"cannot credit {amount} against the {invoice.amount_remaining} still owed",
                remaining=invoice.amount_remaining,
            )
        return None
    if amount > refundable(invoice):
        raise CreditExceedsPaid(
            f"cannot refund {amount}: {refundable(invoice)} of what was paid is left to refund",
            refundable=refundable(invoice),
        )
    if refund_to == "original_payment":
        payment = pick_payment(invoice, amount, payment_id)
        if payment is not None and payment.get("method") == "provider" and not payment["reference"]:
            # The provider reported no payment id (domain/payment_refs.py): a refund
            # would name nothing the provider knows. Refused before anything is recorded.
            raise NotRefundable(
                f"payment {payment['id']} was reported by the provider without a payment "
                "id, so it cannot be refunded through the provider: credit it to the "
                "balance or refund it by hand (refund_to none)",
                payment_id=payment["id"],
            )
        return payment
    return None


def note_record(  # a credit note's facts
    invoice: CreditedInvoice,
    *,
    note_id: str,
    amount: int,
    reason: str,
    refund_to: str,
    refund_account: str,
    payment: dict[str, Any] | None,
    at: datetime,
) -> dict[str, Any]:
    """The credit note as the invoice keeps it; ``refunded_to`` names the account the
    money goes to (``refund_account``, else the refunded payment's own account)."""
    targets = {
        "none": receivable_ref(invoice.customer_id),
        "credit_balance": credit_ref(invoice.customer_id),
    }
    to_account = targets.get(refund_to) or refund_account or (payment or {}).get("paid_from", "")
    return {
        "id": note_id,
        "amount": amount,
        "reason": reason[:500],
        "refund_to": refund_to,
        "payment_id": payment["id"] if payment else None,
        "refunded_to": to_account,
        "at": at.isoformat(),
    }
