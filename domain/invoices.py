"""The Invoice aggregate: its states and transition table, its fields and the amounts
that follow from them, finalizing, every event it records, and what it looks like from
outside (``invoice_summary``: the body every invoicing command answers with and the
invoices read model keeps).

State machine (``MACHINE``):

    draft --finalize--> open --pay--> paid
                        open --void--> void
                        open --mark_uncollectible--> uncollectible --pay--> paid

The Invoice's other commands are in modules named after what they do, which the Invoice
extends: drafting (lines and a coupon, only while a draft: ``domain.invoice_drafting``)
and settling an open invoice (payments, void, uncollectible, credit notes:
``domain.invoice_settlement``). Their events are declared here, with the rest.

Finalizing computes the totals (``domain.invoice_totals``), uses the customer's credit
balance first, takes the next number from the project's ``InvoiceSequence`` (saved in
the same transaction, so numbers are gapless and unique) and records the accounting
entry (``domain.invoice_entries``). An invoice with nothing left to pay after that
(total covered by credit, zero or negative) is paid at once; a negative total becomes
credit. Declined payments and their retries are the business of ``domain.dunning``.

Events (topics ``tally:Invoice.<name>``): ``Created`` (``Drafted`` before issue 17; that
topic still reads), ``LineAdded``, ``LineRemoved``, ``CouponApplied``, ``Finalized``,
``PaymentRecorded``, ``Voided``, ``MarkedUncollectible``, ``Credited``. Every event that
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
from domain.copies import plain_copy
from domain.customer_billing import credit_ref
from domain.errors import InvalidTransition, ValidationFailed
from domain.invoice_drafting import InvoiceDrafting
from domain.invoice_entries import Posting, finalization_entry, receivable_ref
from domain.invoice_lines import LINE_KINDS, MAX_LINES, Line
from domain.invoice_settlement import InvoiceSettlement, PaymentExceedsRemaining
from domain.invoice_totals import check_lines_within_limit, preview_totals
from domain.state_machine import destination, transition_table, walk

if TYPE_CHECKING:
    from domain.dunning import InvoiceDunning

__all__ = [
    "DRAFT",
    "LINE_KINDS",
    "MAX_LINES",
    "OPEN",
    "PAID",
    "UNCOLLECTIBLE",
    "VOID",
    "Invoice",
    "InvoiceEmpty",
    "InvoiceSequence",
    "PaymentExceedsRemaining",
    "credit_ref",
    "invoice_summary",
    "receivable_ref",
]

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


class InvoiceEmpty(ValidationFailed):
    code = "invoice_empty"


class Invoice(TallyAggregate, InvoiceDrafting, InvoiceSettlement):
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
        self.lines: list[Line] = []
        self.rates: dict[str, dict[str, Any]] = {}
        self.coupon: dict[str, Any] | None = None
        self.number = ""
        self.totals: dict[str, Any] = {}
        self.credit_applied = 0
        self.credit_granted = 0
        self.amount_paid = 0
        self.amount_credited = 0
        self.amount_refunded = 0
        self.payments: list[dict[str, Any]] = []
        self.credit_notes: list[dict[str, Any]] = []
        self.entries: list[list[Posting]] = []
        self.dates: dict[str, datetime] = {}

    def summary(self, dunning: InvoiceDunning | None = None) -> dict[str, Any]:
        """The invoice as commands answer it and the read model keeps it
        (``invoice_summary``); ``dunning`` adds its collection state."""
        return invoice_summary(self, dunning)

    # -- amounts -----------------------------------------------------------------------

    @property
    def total(self) -> int:
        return int(self.totals.get("total", 0))

    @property
    def amount_due(self) -> int:
        return max(0, self.total - self.credit_applied)

    @property
    def amount_remaining(self) -> int:
        if self.status in (DRAFT, VOID):
            return 0
        return max(0, self.amount_due - self.amount_paid - self.amount_credited)

    # -- status (the drafting and settlement commands ask these) -----------------------

    @property
    def is_open(self) -> bool:
        return self.status == OPEN

    def next_status(self, trigger: str) -> str:
        """Where ``trigger`` takes the invoice by ``MACHINE``; refused if it may not."""
        return destination(MACHINE, self.status, trigger, what="invoice")

    def check_draft(self, trigger: str) -> None:
        if self.status != DRAFT:
            raise InvalidTransition(
                f"cannot {trigger.replace('_', ' ')} on an invoice that is {self.status}; "
                "only drafts can be edited",
                state=self.status,
                trigger=trigger,
            )

    # -- finalizing --------------------------------------------------------------------

    def preview(self) -> dict[str, Any]:
        """The totals finalizing now would record (nothing is written)."""
        return preview_totals(self.lines, self.rates, self.coupon)

    def check_finalize(self) -> None:
        self.next_status("finalize")
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

    # -- events (the commands above, and those of the modules it extends, record them) --

    @event("LineAdded", topic="tally:Invoice.LineAdded")
    def _line_added(self, line: Line, rates: dict[str, dict[str, Any]]) -> None:
        self.lines.append(line)
        self.rates.update(rates)

    @event("LineRemoved", topic="tally:Invoice.LineRemoved")
    def _line_removed(self, line_id: str) -> None:
        self.lines = [li for li in self.lines if li["id"] != line_id]

    @event("CouponApplied", topic="tally:Invoice.CouponApplied")
    def _coupon_applied(self, coupon: dict[str, Any]) -> None:
        self.coupon = coupon

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

    @event("PaymentRecorded", topic="tally:Invoice.PaymentRecorded")
    def _payment_recorded(
        self, status: str, payment: dict[str, Any], entry: list[Posting], at: datetime
    ) -> None:
        self.status = status
        self.amount_paid += payment["amount"]
        # A copy (Credited's body adds refunds to it; docs/architecture.md, "An event is
        # never changed"), unrefunded as every payment is recorded: a log written before
        # ec0851e may hold one stored with a refund of its batch already added.
        self.payments.append({**payment, "refunded": 0})
        if entry:
            self.entries.append(entry)
        if status == PAID:
            self.dates["paid_at"] = at

    @event("Voided", topic="tally:Invoice.Voided")
    def _voided(self, status: str, entry: list[Posting], at: datetime) -> None:
        self.status = status
        self.entries.append(entry)
        self.dates["voided_at"] = at

    @event("MarkedUncollectible", topic="tally:Invoice.MarkedUncollectible")
    def _marked_uncollectible(self, status: str, at: datetime) -> None:
        self.status = status
        self.dates["marked_uncollectible_at"] = at

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


# -- the summary ------------------------------------------------------------------------

DATES = ("finalized_at", "paid_at", "voided_at", "marked_uncollectible_at")
TOTALS = ("subtotal", "discount", "tax", "tax_by_rate", "total")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def dunning_fields(dunning: InvoiceDunning | None) -> dict[str, Any]:
    """The keys of an invoice's summary that come from its dunning record."""
    return {
        "attempt_count": dunning.attempt_count if dunning else 0,
        "next_payment_attempt_at": _iso(dunning.next_attempt_at) if dunning else None,
        "dunning": dunning.summary() if dunning else None,
    }


def invoice_summary(invoice: Invoice, dunning: InvoiceDunning | None = None) -> dict[str, Any]:
    """The invoice as commands answer it and the read model keeps it (a draft shows
    the totals finalizing now would record); ``dunning`` adds its collection state."""
    totals = invoice.totals or preview_totals(invoice.lines, invoice.rates, invoice.coupon)
    priced = totals.get("lines", [])
    lines = [
        plain_copy({**li, **(priced[i] if i < len(priced) else {})})
        for i, li in enumerate(invoice.lines)
    ]
    return {
        "id": str(invoice.id),
        "number": invoice.number or None,
        "status": invoice.status,
        "customer_id": str(invoice.customer_id),
        "subscription_id": str(invoice.subscription_id) if invoice.subscription_id else None,
        "currency": invoice.currency,
        "description": invoice.description,
        "period_start": _iso(invoice.period_start),
        "period_end": _iso(invoice.period_end),
        "lines": lines,
        "tax_rates": plain_copy(invoice.rates),
        "coupon": plain_copy(invoice.coupon),
        **{k: plain_copy(totals[k]) for k in TOTALS},
        "credit_applied": invoice.credit_applied,
        "credit_granted": invoice.credit_granted,
        "amount_due": invoice.amount_due if invoice.totals else max(0, totals["total"]),
        "amount_paid": invoice.amount_paid,
        "amount_credited": invoice.amount_credited,
        "amount_refunded": invoice.amount_refunded,
        "amount_remaining": invoice.amount_remaining,
        "payments": plain_copy(invoice.payments),
        "credit_notes": plain_copy(invoice.credit_notes),
        **dunning_fields(dunning),
        "finalize_at": _iso(invoice.finalize_at),
        **{k: _iso(invoice.dates.get(k)) for k in DATES},
        "version": invoice.version,
    }


# The event was `Invoice.Drafted` until issue 17 named it after its command,
# CreateInvoice (a subscription's billing records it too), as DESIGN.md asks (events
# past tense, commands imperative). Stored events never change: the old topic still
# reads, as this class.
register_topic("tally:Invoice.Drafted", Invoice.Created)
