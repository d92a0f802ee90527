"""Settling an open invoice: the Invoice's commands after finalizing
(``InvoiceSettlement``): record a payment, void it, mark it uncollectible, issue a
credit note.

The Invoice (``domain.invoices``) extends ``InvoiceSettlement``. Each command checks its
guards (where its trigger may go is the Invoice's transition table, asked through
``next_status``; a credit note's rules are ``domain.credit_notes``'), then records the
Invoice's event; the events (``PaymentRecorded``, ``Voided``, ``MarkedUncollectible``,
``Credited``) stay declared on the Invoice, since the library defines an aggregate's
event classes from its own class body. Declined payments and their retries are the
business of ``domain.dunning``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.copies import plain_copy
from domain.credit_notes import check_credit, note_record
from domain.errors import InvalidAmount, InvalidTransition
from domain.invoice_entries import Posting, credit_note_entry, payment_entry
from domain.limits import MAX_DESCRIPTION_CHARS, MAX_REF_CHARS, check_text
from domain.money import check_amount
from domain.payment_refs import check_payment_ref


class PaymentExceedsRemaining(InvalidAmount):
    code = "payment_exceeds_remaining"


class InvoiceSettlement:
    """The commands of an open ``Invoice``: guards first, then the Invoice's event."""

    # What the commands read and record, all the Invoice's own (its fields, amounts,
    # transition table and @event methods): named here so the commands type-check.
    if TYPE_CHECKING:
        customer_id: UUID
        status: str
        totals: dict[str, Any]
        amount_paid: int
        amount_refunded: int
        payments: list[dict[str, Any]]
        credit_notes: list[dict[str, Any]]
        entries: list[list[Posting]]

        @property
        def amount_remaining(self) -> int: ...
        @property
        def is_open(self) -> bool: ...
        def next_status(self, trigger: str) -> str: ...
        def _payment_recorded(
            self, status: str, payment: dict[str, Any], entry: list[Posting], at: datetime
        ) -> None: ...
        def _voided(self, status: str, entry: list[Posting], at: datetime) -> None: ...
        def _marked_uncollectible(self, status: str, at: datetime) -> None: ...
        def _credited(
            self, status: str, note: dict[str, Any], entry: list[Posting], at: datetime
        ) -> None: ...

    # -- paying ------------------------------------------------------------------------

    def check_payment(self, amount: int) -> None:
        self.next_status("pay")
        if self.amount_remaining == 0:
            # A payment of the remaining amount (the default) would be one of 0.
            raise PaymentExceedsRemaining("nothing remains to be paid", remaining=0)
        check_amount(amount)
        if amount > self.amount_remaining:
            raise PaymentExceedsRemaining(
                f"payment of {amount} is more than the {self.amount_remaining} remaining",
                remaining=self.amount_remaining,
            )

    def pay(
        self,
        amount: int,
        paid_from: str,
        reference: str,
        at: datetime,
        *,
        method: str = "out_of_band",
        transaction_id: UUID | None = None,
    ) -> None:
        """Record a payment from ``paid_from`` (a clearing account, or a wallet whose
        ledger ``transaction_id`` posts the entry). Paid when nothing remains."""
        # What is stored is checked: the first MAX_REF_CHARS characters.
        check_text(reference[:MAX_REF_CHARS], "reference", MAX_REF_CHARS)
        if method == "provider" and reference:
            # What a refund of it will name at the provider: of the provider's kind.
            check_payment_ref(paid_from.removeprefix("clearing:"), reference)
        self.check_payment(amount)
        remaining = self.amount_remaining - amount
        status = self.status if remaining else self.next_status("pay")
        payment = {
            "id": f"pay_{len(self.payments) + 1}",
            "amount": amount,
            "method": method,
            "paid_from": paid_from,
            "reference": reference[:MAX_REF_CHARS],
            "transaction_id": str(transaction_id) if transaction_id else None,
            "refunded": 0,
            "at": at.isoformat(),
        }
        # A wallet payment's entry is its ledger transaction's; the invoice posts none.
        entry = [] if transaction_id else payment_entry(self.customer_id, paid_from, amount)
        self._payment_recorded(status=status, payment=payment, entry=entry, at=at)

    # -- closing -----------------------------------------------------------------------

    def check_void(self) -> None:
        self.next_status("void")
        if self.amount_paid or self.credit_notes:
            raise InvalidTransition(
                "an invoice with payments or credit notes cannot be voided; issue a credit note",
                state=self.status,
                trigger="void",
            )

    def void(self, at: datetime) -> None:
        """Void an open invoice: reverses the finalization entry, including the credit it
        used (the handler gives that credit back to the customer's balance)."""
        self.check_void()
        status = self.next_status("void")
        entry = [{"account": p["account"], "amount": -p["amount"]} for p in self.entries[0]]
        self._voided(status=status, entry=entry, at=at)

    def mark_uncollectible(self, at: datetime) -> None:
        self._marked_uncollectible(status=self.next_status("mark_uncollectible"), at=at)

    # -- credit notes (rules in domain.credit_notes) -----------------------------------

    def credit(
        self,
        note_id: str,
        amount: int,
        reason: str,
        refund_to: str,
        refund_account: str,
        at: datetime,
        *,
        payment_id: str | None = None,
    ) -> dict[str, Any]:
        """Issue a credit note; returns it. ``refund_account`` is where a refund to the
        original payment goes ("" means the payment's own account)."""
        check_text(reason, "reason", MAX_DESCRIPTION_CHARS, free_text=True)
        payment = check_credit(self, amount, refund_to, payment_id)
        note = note_record(
            self,
            note_id=note_id,
            amount=amount,
            reason=reason,
            refund_to=refund_to,
            refund_account=refund_account,
            payment=payment,
            at=at,
        )
        status = self.status
        # Crediting all that an open invoice still owes pays it (an uncollectible one
        # stays as it is).
        if refund_to == "none" and amount == self.amount_remaining and self.is_open:
            status = self.next_status("pay")
        self._credited(
            status=status,
            note=note,
            entry=credit_note_entry(self.totals, amount, note["refunded_to"]),
            at=at,
        )
        return plain_copy(note)  # the invoice keeps its own, changed by refunds
