"""What invoicing keeps per customer: the credit balance, attached coupons and due work.

One ``CustomerBilling`` aggregate per customer (deterministic id), created the first
time invoicing needs it.

- **Credit balance** (minor units, never negative) in the customer's currency. It grows
  with credit notes refunded to it, invoices whose total is negative and manual
  adjustments; finalization uses it before anything is charged. Its journal account is
  ``customer_credit:<customer>`` (positive: Tally owes the customer). Only manual
  adjustments post an entry here (``customer_credit`` against ``credit_adjustments``);
  every other change is the other half of an entry the invoice records.
- **Coupons** attached to the customer (``"customer"``) or to one of its subscriptions
  (the subscription id): each with the invoices it still applies to (``None``: forever).
  A subscription's own coupon wins over the customer's.
- **Due work**: invoice id to the moment something is due for it (a draft to finalize,
  a payment to retry), so the scheduler and test clocks find it without a query.

Events: ``Opened``, ``CreditAdjusted``, ``CreditApplied``, ``CreditGranted``,
``CouponAttached``, ``CouponUsed``, ``WorkScheduled``, ``WorkCleared``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.copies import plain_copy
from domain.errors import InsufficientFunds, ValidationFailed
from domain.limits import MAX_DESCRIPTION_CHARS, check_text
from domain.money import check_amount, check_within_limit

Posting = dict[str, Any]
CUSTOMER = "customer"


def credit_ref(customer_id: UUID) -> str:
    return f"customer_credit:{customer_id}"


class CustomerBilling(TallyAggregate):
    TOPIC = "tally:CustomerBilling"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:CustomerBilling.Created"

    @staticmethod
    def create_id(customer_id: UUID) -> UUID:
        return uuid5(customer_id, "billing")

    @event("Opened", topic="tally:CustomerBilling.Opened")
    def __init__(self, project_id: UUID, customer_id: UUID, currency: str) -> None:
        self.project_id = project_id
        self.customer_id = customer_id
        self.currency = currency
        self.credit_balance = 0
        self.coupons: dict[str, dict[str, Any]] = {}
        self.due: dict[str, datetime] = {}

    # -- credit balance ----------------------------------------------------------------

    def check_adjustment(self, amount: int) -> None:
        if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
            raise ValidationFailed("an adjustment is a non-zero whole number of minor units")
        check_amount(abs(amount))
        if self.credit_balance + amount < 0:
            raise InsufficientFunds(
                f"the credit balance is {self.credit_balance}; it cannot go below zero",
                available=self.credit_balance,
                requested=-amount,
            )
        self.check_grant(amount)

    def check_grant(self, amount: int) -> None:
        """The credit balance after ``amount`` more must stay within the money limit
        (``domain/limits/``); handlers call this before they change anything."""
        check_within_limit(self.credit_balance + amount, "the customer's credit balance")

    def adjust_credit(self, amount: int, reason: str) -> list[Posting]:
        """A manual change of the credit balance (positive adds credit)."""
        check_text(reason, "reason", MAX_DESCRIPTION_CHARS, free_text=True)
        self.check_adjustment(amount)
        entry = [
            {"account": credit_ref(self.customer_id), "amount": amount},
            {"account": "credit_adjustments", "amount": -amount},
        ]
        self._credit_adjusted(amount=amount, reason=reason[:500], entry=entry)
        return entry

    @event("CreditAdjusted", topic="tally:CustomerBilling.CreditAdjusted")
    def _credit_adjusted(self, amount: int, reason: str, entry: list[Posting]) -> None:
        self.credit_balance += amount

    def apply_credit(self, invoice_id: UUID, amount: int) -> None:
        """Finalization of ``invoice_id`` used ``amount`` of the balance."""
        assert 0 < amount <= self.credit_balance, (amount, self.credit_balance)
        self._credit_applied(invoice_id=invoice_id, amount=amount)

    @event("CreditApplied", topic="tally:CustomerBilling.CreditApplied")
    def _credit_applied(self, invoice_id: UUID, amount: int) -> None:
        self.credit_balance -= amount

    def grant_credit(self, invoice_id: UUID, amount: int, source: str) -> None:
        """``invoice_id`` gave the customer ``amount`` of credit (a credit note, a negative
        total, or a voided invoice handing back the credit it had used)."""
        assert amount > 0, amount
        self.check_grant(amount)
        self._credit_granted(invoice_id=invoice_id, amount=amount, source=source)

    @event("CreditGranted", topic="tally:CustomerBilling.CreditGranted")
    def _credit_granted(self, invoice_id: UUID, amount: int, source: str) -> None:
        self.credit_balance += amount

    # -- coupons -----------------------------------------------------------------------

    def attach_coupon(self, target: str, coupon: dict[str, Any]) -> None:
        self._coupon_attached(target=target, coupon=coupon)

    @event("CouponAttached", topic="tally:CustomerBilling.CouponAttached")
    def _coupon_attached(self, target: str, coupon: dict[str, Any]) -> None:
        self.coupons[target] = coupon

    def coupon_for(self, subscription_id: UUID | None) -> tuple[str, dict[str, Any]] | None:
        """The coupon the next invoice of ``subscription_id`` gets, and where it is kept."""
        for target in (str(subscription_id) if subscription_id else None, CUSTOMER):
            if target is not None and target in self.coupons:
                return target, self.coupons[target]
        return None

    def use_coupon(self, target: str, invoice_id: UUID) -> None:
        self._coupon_used(target=target, invoice_id=invoice_id)

    @event("CouponUsed", topic="tally:CustomerBilling.CouponUsed")
    def _coupon_used(self, target: str, invoice_id: UUID) -> None:
        coupon = self.coupons[target]
        remaining = coupon.get("remaining")
        if remaining is None:
            return
        if remaining <= 1:
            del self.coupons[target]
        else:
            self.coupons[target] = {**coupon, "remaining": remaining - 1}

    # -- due work ----------------------------------------------------------------------

    def schedule(self, invoice_id: UUID, at: datetime, kind: str) -> None:
        if self.due.get(str(invoice_id)) != at:
            self._work_scheduled(invoice_id=invoice_id, at=at, kind=kind)

    @event("WorkScheduled", topic="tally:CustomerBilling.WorkScheduled")
    def _work_scheduled(self, invoice_id: UUID, at: datetime, kind: str) -> None:
        self.due[str(invoice_id)] = at

    def clear(self, invoice_id: UUID) -> None:
        if str(invoice_id) in self.due:
            self._work_cleared(invoice_id=invoice_id)

    @event("WorkCleared", topic="tally:CustomerBilling.WorkCleared")
    def _work_cleared(self, invoice_id: UUID) -> None:
        self.due.pop(str(invoice_id), None)

    def due_by(self, moment: datetime) -> list[tuple[datetime, UUID]]:
        return sorted((at, UUID(i)) for i, at in self.due.items() if at <= moment)

    def summary(self) -> dict[str, Any]:
        return {
            "customer_id": str(self.customer_id),
            "currency": self.currency,
            "credit_balance": self.credit_balance,
            "coupons": plain_copy(self.coupons),
            "due": {i: at.isoformat() for i, at in sorted(self.due.items())},
        }
