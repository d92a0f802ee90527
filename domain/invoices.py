"""The Invoice aggregate.

State machine (a module-level transition table):

    draft --finalize--> open --pay--> paid
                        open --void--> void
                        open --mark_uncollectible--> uncollectible --pay--> paid

Lines are added and removed only while the invoice is a draft. Finalizing computes the
totals (``domain.invoice_totals``), uses the customer's credit balance first, takes the
next number from the project's ``InvoiceSequence`` (saved in the same transaction, so
numbers are gapless and unique) and records the accounting entry
(``domain.invoice_entries``). An invoice with nothing left to pay after that (total
covered by credit, zero or negative) is paid at once; a negative total becomes credit.

Declined payments and their retries are the business of ``domain.dunning``.

Events (topics ``tally:Invoice.<name>``): ``Created`` (``Drafted`` before issue 17; that
topic still reads), ``LineAdded``, ``LineRemoved``,
``CouponApplied``, ``Finalized``, ``PaymentRecorded``, ``Voided``,
``MarkedUncollectible``, ``Credited``. Every event that
moves money carries its ``entry`` (a list of ``{account, amount}`` postings).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import event
from eventsourcing.utils import register_topic

from domain.base import TallyAggregate
from domain.billing_settings import InvoiceSequence
from domain.credit_notes import check_credit, note_record
from domain.customer_billing import credit_ref
from domain.errors import CurrencyMismatch
from domain.invoice_entries import (
    credit_note_entry,
    finalization_entry,
    payment_entry,
    receivable_ref,
)
from domain.invoice_lines import LINE_KINDS, MAX_LINES, Line, build_line
from domain.invoice_state import (
    DRAFT,
    MACHINE,
    OPEN,
    PAID,
    InvoiceEmpty,
    InvoiceState,
    Posting,
    invoice_summary,
)
from domain.invoice_totals import check_lines_within_limit, preview_totals
from domain.limits import MAX_DESCRIPTION_CHARS, MAX_REF_CHARS, check_text
from domain.money import Money
from domain.state_machine import destination, walk
from domain.tax import TaxRate

if TYPE_CHECKING:
    from domain.dunning import InvoiceDunning

__all__ = [
    "LINE_KINDS",
    "MAX_LINES",
    "Invoice",
    "InvoiceEmpty",
    "InvoiceSequence",
    "credit_ref",
    "receivable_ref",
]


class Invoice(TallyAggregate, InvoiceState):
    TOPIC = "tally:Invoice"

    @event("Created", topic="tally:Invoice.Created")
    def __init__(
        self,
        project_id: UUID,
        customer_id: UUID,
        currency: str,
        subscription_id: UUID | None,
        period_start: datetime | None,
        period_end: datetime | None,
        finalize_at: datetime | None = None,
        description: str = "",
    ) -> None:
        self.project_id = project_id
        self.customer_id = customer_id
        self.currency = currency
        self.subscription_id = subscription_id
        self.period_start = period_start
        self.period_end = period_end
        self.finalize_at = finalize_at
        self.description = description
        self.status = DRAFT
        self.lines = []
        self.rates = {}
        self.coupon = None
        self.number = ""
        self.totals = {}
        self.credit_applied = 0
        self.credit_granted = 0
        self.amount_paid = 0
        self.amount_credited = 0
        self.amount_refunded = 0
        self.payments = []
        self.credit_notes = []
        self.entries = []
        self.dates = {}

    def summary(self, dunning: InvoiceDunning | None = None) -> dict[str, Any]:
        """The invoice as commands answer it and the read model keeps it
        (``domain.invoice_state.invoice_summary``); ``dunning`` adds its collection state."""
        return invoice_summary(self, dunning)

    # -- drafting ----------------------------------------------------------------------

    def add_line(  # a line's fields are independent facts, so they are all named
        self,
        line_id: str,
        kind: str,
        description: str,
        quantity: int,
        unit_amount: int,
        tax_rates: list[TaxRate],
        discountable: bool = True,
        amount: int | None = None,
        period: tuple[datetime, datetime] | None = None,
        tiers: list[dict[str, Any]] | None = None,
        usage: dict[str, Any] | None = None,
    ) -> None:
        """Add a line (``domain.invoice_lines``)."""
        check_text(description, "description", MAX_DESCRIPTION_CHARS, min_chars=1, free_text=True)
        self.check_line(line_id, kind, quantity, unit_amount)
        line, rates = build_line(
            line_id=line_id,
            kind=kind,
            description=description,
            quantity=quantity,
            unit_amount=unit_amount,
            tax_rates=tax_rates,
            discountable=discountable,
            amount=amount,
            period=period,
            tiers=tiers,
            usage=usage,
        )
        # The invoice with this line must still fit the limits (domain/limits.py).
        check_lines_within_limit([*self.lines, line], {**self.rates, **rates}, self.coupon)
        self._line_added(line=line, rates=rates)

    @event("LineAdded", topic="tally:Invoice.LineAdded")
    def _line_added(self, line: Line, rates: dict[str, dict[str, Any]]) -> None:
        self.lines.append(line)
        self.rates.update(rates)

    def remove_line(self, line_id: str) -> None:
        self.check_remove_line(line_id)
        self._line_removed(line_id=line_id)

    @event("LineRemoved", topic="tally:Invoice.LineRemoved")
    def _line_removed(self, line_id: str) -> None:
        self.lines = [li for li in self.lines if li["id"] != line_id]

    def apply_coupon(
        self, coupon_id: str, percent_off: str | None, amount_off: Money | None, code: str = ""
    ) -> None:
        """Apply a coupon; a fixed amount off must be in the invoice's currency. The event
        keeps the bare amount, as it always has."""
        self.check_coupon()
        if amount_off is not None and amount_off.currency != self.currency:
            raise CurrencyMismatch(
                f"coupon '{code}' takes {amount_off.currency} off; this is billed in "
                f"{self.currency}",
                coupon_currency=amount_off.currency,
                currency=self.currency,
            )
        self._coupon_applied(
            coupon={
                "id": coupon_id,
                "code": code,
                "percent_off": percent_off,
                "amount_off": None if amount_off is None else amount_off.amount,
            }
        )

    @event("CouponApplied", topic="tally:Invoice.CouponApplied")
    def _coupon_applied(self, coupon: dict[str, Any]) -> None:
        self.coupon = coupon

    # -- finalizing --------------------------------------------------------------------

    def preview(self) -> dict[str, Any]:
        """The totals finalizing now would record (nothing is written)."""
        return preview_totals(self.lines, self.rates, self.coupon)

    def check_finalize(self) -> None:
        destination(MACHINE, self.status, "finalize", what="invoice")
        if not self.lines:
            raise InvoiceEmpty("an invoice with no lines cannot be finalized")
        check_lines_within_limit(self.lines, self.rates, self.coupon)

    def finalize(
        self,
        sequence: InvoiceSequence,
        credit_available: int,
        now: datetime,
        prefix: str | None = None,
    ) -> int:
        """Finalize with the next number; returns the credit balance used. Afterwards
        ``credit_granted`` is the credit a negative total gave the customer."""
        self.check_finalize()
        totals = self.preview()
        total = int(totals["total"])
        credit = min(max(0, credit_available), max(0, total))
        granted = max(0, -total)
        status = walk(
            MACHINE,
            DRAFT,
            ["finalize"] if total - credit > 0 else ["finalize", "pay"],
            what="invoice",
        )
        number = sequence.take(now.year, prefix)
        self._finalized(
            status=status,
            number=number,
            totals=totals,
            credit_applied=credit,
            credit_granted=granted,
            entry=finalization_entry(self.customer_id, totals, credit, granted),
            at=now,
        )
        return credit

    @event("Finalized", topic="tally:Invoice.Finalized")
    def _finalized(
        self,
        status: str,
        number: str,
        totals: dict[str, Any],
        credit_applied: int,
        credit_granted: int,
        entry: list[Posting],
        at: datetime,
    ) -> None:
        self.status = status
        self.number = number
        self.totals = totals
        self.credit_applied = credit_applied
        self.credit_granted = credit_granted
        self.entries.append(entry)
        self.finalize_at = None
        self.dates["finalized_at"] = at
        if status == PAID:
            self.dates["paid_at"] = at

    # -- paying ------------------------------------------------------------------------

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
        self.check_payment(amount)
        remaining = self.amount_remaining - amount
        status = (
            self.status if remaining else destination(MACHINE, self.status, "pay", what="invoice")
        )
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

    @event("PaymentRecorded", topic="tally:Invoice.PaymentRecorded")
    def _payment_recorded(
        self, status: str, payment: dict[str, Any], entry: list[Posting], at: datetime
    ) -> None:
        self.status = status
        self.amount_paid += payment["amount"]
        self.payments.append(payment)
        if entry:
            self.entries.append(entry)
        if status == PAID:
            self.dates["paid_at"] = at

    # -- closing -----------------------------------------------------------------------

    def void(self, at: datetime) -> None:
        """Void an open invoice: reverses the finalization entry, including the credit it
        used (the handler gives that credit back to the customer's balance)."""
        self.check_void()
        status = destination(MACHINE, self.status, "void", what="invoice")
        entry = [{"account": p["account"], "amount": -p["amount"]} for p in self.entries[0]]
        self._voided(status=status, entry=entry, at=at)

    @event("Voided", topic="tally:Invoice.Voided")
    def _voided(self, status: str, entry: list[Posting], at: datetime) -> None:
        self.status = status
        self.entries.append(entry)
        self.dates["voided_at"] = at

    def mark_uncollectible(self, at: datetime) -> None:
        status = destination(MACHINE, self.status, "mark_uncollectible", what="invoice")
        self._marked_uncollectible(status=status, at=at)

    @event("MarkedUncollectible", topic="tally:Invoice.MarkedUncollectible")
    def _marked_uncollectible(self, status: str, at: datetime) -> None:
        self.status = status
        self.dates["marked_uncollectible_at"] = at

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
        if refund_to == "none" and amount == self.amount_remaining and status == OPEN:
            status = destination(MACHINE, status, "pay", what="invoice")
        self._credited(
            status=status,
            note=note,
            entry=credit_note_entry(self.totals, amount, note["refunded_to"]),
            at=at,
        )
        return note

    @event("Credited", topic="tally:Invoice.Credited")
    def _credited(
        self, status: str, note: dict[str, Any], entry: list[Posting], at: datetime
    ) -> None:
        self.status = status
        self.credit_notes.append(note)
        if note["refund_to"] == "none":
            self.amount_credited += note["amount"]
        else:
            self.amount_refunded += note["amount"]
        for payment in self.payments:
            if payment["id"] == note.get("payment_id"):
                payment["refunded"] += note["amount"]
        self.entries.append(entry)
        if status == PAID and "paid_at" not in self.dates:
            self.dates["paid_at"] = at


# The event was `Invoice.Drafted` until issue 17 named it after its command,
# CreateInvoice (a subscription's billing records it too), as DESIGN.md asks (events
# past tense, commands imperative). Stored events never change: the old topic still
# reads, as this class.
register_topic("tally:Invoice.Drafted", Invoice.Created)
