"""The Invoice aggregate and the per-project invoice number sequence.

State machine (a transition table):

    draft --finalize--> open --pay--> paid
                        open --void--> void
                        open --mark_uncollectible--> uncollectible --pay--> paid

Lines can be added and removed only while the invoice is a draft. Finalizing computes the
totals (``domain.invoice_totals``), applies the customer's credit balance, takes the next
number from the project's ``InvoiceSequence`` (saved in the same transaction, so numbers
are gapless and unique), and records the accounting entry:

    receivable:<customer> -total, revenue +net, tax_payable:<rate> +tax

(postings are signed like the ledger's: positive raises that account's balance; a
negative receivable is what the customer owes). Applying credit posts
``customer_credit:<customer> -c, receivable:<customer> +c``; a payment posts the paying
account (a wallet or a provider's clearing account) ``-x`` and the receivable ``+x``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import TallyAggregate
from domain.discounts import allocate
from domain.errors import CreditExceedsPaid, InvalidTransition, ValidationFailed
from domain.invoice_sequence import InvoiceSequence
from domain.invoice_totals import Line, compute_totals
from domain.money import check_amount
from domain.state_machine import destination, transition_table
from domain.tax import TaxRate

DRAFT, OPEN, PAID, VOID, UNCOLLECTIBLE = "draft", "open", "paid", "void", "uncollectible"
MACHINE = transition_table(
    states=[DRAFT, OPEN, PAID, VOID, UNCOLLECTIBLE],
    transitions=[
        ("finalize", DRAFT, OPEN),
        ("pay", [OPEN, UNCOLLECTIBLE], PAID),
        ("void", OPEN, VOID),
        ("mark_uncollectible", OPEN, UNCOLLECTIBLE),
    ],
    initial=DRAFT,
)
LINE_KINDS = ("subscription", "proration", "one_time", "usage")
REFUND_TO = ("none", "credit_balance", "original_payment")
MAX_LINES = 500
Posting = dict[str, Any]


class InvoiceEmpty(ValidationFailed):
    code = "invoice_empty"


def receivable_ref(customer_id: UUID) -> str:
    return f"receivable:{customer_id}"


def credit_ref(customer_id: UUID) -> str:
    return f"customer_credit:{customer_id}"


class Invoice(TallyAggregate):
    TOPIC = "tally:Invoice"

    class Created(TallyAggregate.Created):
        TOPIC = "tally:Invoice.Created"

    @event("Drafted", topic="tally:Invoice.Drafted")
    def __init__(
        self,
        project_id: UUID,
        customer_id: UUID,
        currency: str,
        subscription_id: UUID | None,
        period_start: datetime | None,
        period_end: datetime | None,
    ) -> None:
        self.project_id = project_id
        self.customer_id = customer_id
        self.currency = currency
        self.subscription_id = subscription_id
        self.period_start = period_start
        self.period_end = period_end
        self.status = DRAFT
        self.lines: list[Line] = []
        self.rates: dict[str, dict[str, Any]] = {}
        self.coupon: dict[str, Any] | None = None
        self.number = ""
        self.totals: dict[str, Any] = {}
        self.credit_applied = 0
        self.amount_paid = 0
        self.amount_credited = 0
        self.amount_refunded = 0
        self.payments: list[dict[str, Any]] = []
        self.credit_notes: list[dict[str, Any]] = []
        self.entries: list[list[Posting]] = []

    # -- derived -----------------------------------------------------------------------

    @property
    def total(self) -> int:
        return int(self.totals.get("total", 0))

    @property
    def amount_due(self) -> int:
        return max(0, self.total - self.credit_applied)

    @property
    def amount_remaining(self) -> int:
        return max(0, self.amount_due - self.amount_paid - self.amount_credited)

    def _check_draft(self, trigger: str) -> None:
        if self.status != DRAFT:
            raise InvalidTransition(
                f"cannot {trigger.replace('_', ' ')} on an invoice that is {self.status}",
                state=self.status,
                trigger=trigger,
            )

    # -- drafting ----------------------------------------------------------------------

    def add_line(
        self,
        line_id: str,
        kind: str,
        description: str,
        quantity: int,
        unit_amount: int,
        tax_rates: list[TaxRate],
        discountable: bool = True,
    ) -> None:
        self._check_draft("add_line")
        if kind not in LINE_KINDS:
            raise ValidationFailed(f"line kind must be one of {', '.join(LINE_KINDS)}")
        if len(self.lines) >= MAX_LINES:
            raise ValidationFailed(f"an invoice has at most {MAX_LINES} lines")
        if any(li["id"] == line_id for li in self.lines):
            raise ValidationFailed(f"line {line_id} already exists")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise ValidationFailed("quantity must be a whole number greater than zero")
        if kind != "proration":  # only proration lines may credit
            check_amount(unit_amount, allow_zero=True)
        self._line_added(
            line={
                "id": line_id,
                "kind": kind,
                "description": description,
                "quantity": quantity,
                "unit_amount": unit_amount,
                "amount": quantity * unit_amount,
                "discountable": discountable and kind != "proration",
                "tax_rate_ids": [r.id for r in tax_rates],
            },
            rates={
                r.id: {
                    "percentage": str(r.percentage),
                    "inclusive": r.inclusive,
                    "jurisdiction": r.jurisdiction,
                }
                for r in tax_rates
            },
        )

    @event("LineAdded", topic="tally:Invoice.LineAdded")
    def _line_added(self, line: Line, rates: dict[str, dict[str, Any]]) -> None:
        self.lines.append(line)
        self.rates.update(rates)

    def remove_line(self, line_id: str) -> None:
        self._check_draft("remove_line")
        if not any(li["id"] == line_id for li in self.lines):
            raise ValidationFailed(f"line {line_id} is not on this invoice")
        self._line_removed(line_id=line_id)

    @event("LineRemoved", topic="tally:Invoice.LineRemoved")
    def _line_removed(self, line_id: str) -> None:
        self.lines = [li for li in self.lines if li["id"] != line_id]

    def apply_coupon(self, coupon_id: str, percent_off: str | None, amount_off: int | None) -> None:
        self._check_draft("apply_coupon")
        self._coupon_applied(
            coupon={"id": coupon_id, "percent_off": percent_off, "amount_off": amount_off}
        )

    @event("CouponApplied", topic="tally:Invoice.CouponApplied")
    def _coupon_applied(self, coupon: dict[str, Any]) -> None:
        self.coupon = coupon

    def tax_rates(self) -> dict[str, TaxRate]:
        return {
            rid: TaxRate(rid, Decimal(r["percentage"]), r["inclusive"], r["jurisdiction"])
            for rid, r in self.rates.items()
        }

    def preview(self) -> dict[str, Any]:
        """The totals finalizing now would record (nothing is written)."""
        coupon = self.coupon or {}
        percent = coupon.get("percent_off")
        return compute_totals(
            self.lines,
            self.tax_rates(),
            Decimal(percent) if percent is not None else None,
            coupon.get("amount_off"),
        ).as_dict()

    # -- finalizing --------------------------------------------------------------------

    def finalize(self, sequence: InvoiceSequence, credit_available: int, now: datetime) -> int:
        """Finalize with the next number; returns the credit balance used."""
        status = destination(MACHINE, self.status, "finalize", what="invoice")
        if not self.lines:
            raise InvoiceEmpty("an invoice with no lines cannot be finalized")
        totals = self.preview()
        credit = min(max(0, credit_available), max(0, int(totals["total"])))
        number = sequence.take(now.year)
        entry = self._finalization_entry(totals, credit)
        self._finalized(
            status=status, number=number, totals=totals, credit_applied=credit, entry=entry, at=now
        )
        return credit

    def _finalization_entry(self, totals: dict[str, Any], credit: int) -> list[Posting]:
        receivable = receivable_ref(self.customer_id)
        postings: list[Posting] = [
            {"account": receivable, "amount": -totals["total"]},
            {"account": "revenue", "amount": totals["net"]},
        ]
        for rate_id, tax in sorted(totals["tax_by_rate"].items()):
            postings.append({"account": f"tax_payable:{rate_id}", "amount": tax})
        if credit:
            postings.append({"account": credit_ref(self.customer_id), "amount": -credit})
            postings.append({"account": receivable, "amount": credit})
        return [p for p in postings if p["amount"]]

    @event("Finalized", topic="tally:Invoice.Finalized")
    def _finalized(
        self,
        status: str,
        number: str,
        totals: dict[str, Any],
        credit_applied: int,
        entry: list[Posting],
        at: datetime,
    ) -> None:
        self.status = status
        self.number = number
        self.totals = totals
        self.credit_applied = credit_applied
        self.entries.append(entry)

    # -- settling ----------------------------------------------------------------------

    def check_payment(self, amount: int) -> None:
        destination(MACHINE, self.status, "pay", what="invoice")
        check_amount(amount)
        if amount > self.amount_remaining:
            raise ValidationFailed(
                f"payment of {amount} is more than the {self.amount_remaining} remaining",
                remaining=self.amount_remaining,
            )

    def pay(self, amount: int, paid_from: str, reference: str, at: datetime) -> None:
        """Record a payment from ``paid_from`` (a wallet or clearing account ref, or
        ``out_of_band``). The invoice is paid when nothing remains."""
        self.check_payment(amount)
        remaining = self.amount_remaining - amount
        status = (
            destination(MACHINE, self.status, "pay", what="invoice")
            if remaining == 0
            else self.status
        )
        entry = [
            {"account": paid_from, "amount": -amount},
            {"account": receivable_ref(self.customer_id), "amount": amount},
        ]
        self._payment_recorded(
            status=status,
            amount=amount,
            paid_from=paid_from,
            reference=reference,
            entry=entry,
            at=at,
        )

    @event("PaymentRecorded", topic="tally:Invoice.PaymentRecorded")
    def _payment_recorded(
        self,
        status: str,
        amount: int,
        paid_from: str,
        reference: str,
        entry: list[Posting],
        at: datetime,
    ) -> None:
        self.status = status
        self.amount_paid += amount
        self.payments.append({"amount": amount, "paid_from": paid_from, "reference": reference})
        self.entries.append(entry)

    def void(self, at: datetime) -> None:
        status = destination(MACHINE, self.status, "void", what="invoice")
        if self.amount_paid:
            raise InvalidTransition(
                "an invoice with payments cannot be voided; issue a credit note",
                state=self.status,
                trigger="void",
            )
        # Voiding reverses the finalization entry, including any credit it used.
        entry = [{"account": p["account"], "amount": -p["amount"]} for p in self.entries[0]]
        self._voided(status=status, entry=entry, at=at)

    @event("Voided", topic="tally:Invoice.Voided")
    def _voided(self, status: str, entry: list[Posting], at: datetime) -> None:
        self.status = status
        self.entries.append(entry)

    def mark_uncollectible(self, at: datetime) -> None:
        status = destination(MACHINE, self.status, "mark_uncollectible", what="invoice")
        self._marked_uncollectible(status=status, at=at)

    @event("MarkedUncollectible", topic="tally:Invoice.MarkedUncollectible")
    def _marked_uncollectible(self, status: str, at: datetime) -> None:
        self.status = status

    # -- credit notes ------------------------------------------------------------------

    def check_credit(self, amount: int, refund_to: str) -> None:
        if self.status not in (OPEN, PAID, UNCOLLECTIBLE):
            raise InvalidTransition(
                f"cannot credit an invoice that is {self.status}",
                state=self.status,
                trigger="credit",
            )
        check_amount(amount)
        if refund_to not in REFUND_TO:
            raise ValidationFailed(f"refund_to must be one of {', '.join(REFUND_TO)}")
        if refund_to == "none" and amount > self.amount_remaining:
            raise CreditExceedsPaid(
                f"cannot credit {amount} against the {self.amount_remaining} still owed",
                remaining=self.amount_remaining,
            )
        refundable = self.amount_paid - self.amount_refunded
        if refund_to != "none" and amount > refundable:
            raise CreditExceedsPaid(
                f"cannot refund {amount}: {refundable} of what was paid is left to refund",
                refundable=refundable,
            )

    def credit(
        self,
        note_id: str,
        amount: int,
        reason: str,
        refund_to: str,
        refund_account: str,
        at: datetime,
    ) -> None:
        """Issue a credit note. It reverses revenue and tax in proportion to the invoice's
        totals; with ``refund_to="none"`` it lowers what is still owed, otherwise the
        money goes to the customer's credit balance or back to ``refund_account`` (the
        account the original payment came from)."""
        self.check_credit(amount, refund_to)
        total = max(1, self.total)
        tax_by_rate: dict[str, int] = dict(sorted(self.totals.get("tax_by_rate", {}).items()))
        tax_part = min(amount, (amount * int(self.totals.get("tax", 0)) + total // 2) // total)
        rate_parts = allocate(tax_part, [max(0, v) for v in tax_by_rate.values()])
        entry: list[Posting] = [{"account": "revenue", "amount": -(amount - tax_part)}]
        entry += [
            {"account": f"tax_payable:{rid}", "amount": -part}
            for rid, part in zip(tax_by_rate, rate_parts, strict=True)
            if part
        ]
        if refund_to == "none":
            entry.append({"account": receivable_ref(self.customer_id), "amount": amount})
        elif refund_to == "credit_balance":
            entry.append({"account": credit_ref(self.customer_id), "amount": amount})
        else:
            entry.append({"account": refund_account, "amount": amount})
        self._credited(
            note={"id": note_id, "amount": amount, "reason": reason, "refund_to": refund_to},
            entry=[p for p in entry if p["amount"]],
            at=at,
        )

    @event("Credited", topic="tally:Invoice.Credited")
    def _credited(self, note: dict[str, Any], entry: list[Posting], at: datetime) -> None:
        self.credit_notes.append(note)
        if note["refund_to"] == "none":
            self.amount_credited += note["amount"]
        else:
            self.amount_refunded += note["amount"]
        self.entries.append(entry)
