"""What an invoice is, as its rules read it: its states and transition table, its
fields, the amounts that follow from them, the guards the commands check before the
aggregate records an event (``domain.invoices``; finalizing's guard and preview are on
the aggregate, beside ``finalize``), and what it looks like from outside: the body every
invoicing command answers with and the invoices read model keeps (``invoice_summary``,
which ``Invoice.summary`` calls), in one place.

The rules kept in modules of their own (credit notes, the summary) read an invoice
through this class, so they need not import the aggregate that calls them (no import
cycle).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.errors import (
    CouponUnavailable,
    InvalidAmount,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from domain.invoice_lines import Line, check_line
from domain.invoice_totals import preview_totals
from domain.money import check_amount
from domain.state_machine import destination, transition_table

if TYPE_CHECKING:
    from domain.dunning import InvoiceDunning

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
Posting = dict[str, Any]


class InvoiceEmpty(ValidationFailed):
    code = "invoice_empty"


class PaymentExceedsRemaining(InvalidAmount):
    code = "payment_exceeds_remaining"


class InvoiceState:
    """The invoice's fields (set by the aggregate's events) and the checks that read
    them. ``Invoice`` is the aggregate; this is what it knows."""

    # The aggregate's own (``eventsourcing``'s): named here for the rules that read them.
    if TYPE_CHECKING:

        @property
        def id(self) -> UUID: ...

        version: int

    project_id: UUID
    customer_id: UUID
    currency: str
    subscription_id: UUID | None
    period_start: datetime | None
    period_end: datetime | None
    finalize_at: datetime | None
    description: str
    status: str
    lines: list[Line]
    rates: dict[str, dict[str, Any]]
    coupon: dict[str, Any] | None
    number: str
    totals: dict[str, Any]
    credit_applied: int
    credit_granted: int
    amount_paid: int
    amount_credited: int
    amount_refunded: int
    payments: list[dict[str, Any]]
    credit_notes: list[dict[str, Any]]
    entries: list[list[Posting]]
    dates: dict[str, datetime]

    # -- derived -----------------------------------------------------------------------

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

    # -- guards ------------------------------------------------------------------------

    def _check_draft(self, trigger: str) -> None:
        if self.status != DRAFT:
            raise InvalidTransition(
                f"cannot {trigger.replace('_', ' ')} on an invoice that is {self.status}; "
                "only drafts can be edited",
                state=self.status,
                trigger=trigger,
            )

    def check_line(self, line_id: str, kind: str, quantity: int, unit_amount: int) -> None:
        self._check_draft("add_line")
        check_line(self.lines, line_id, kind, quantity, unit_amount)

    def check_remove_line(self, line_id: str) -> None:
        self._check_draft("remove_line")
        if not any(li["id"] == line_id for li in self.lines):
            raise NotFound(f"line {line_id} is not on this invoice", id=line_id)

    def check_coupon(self) -> None:
        self._check_draft("apply_coupon")
        if self.coupon is not None:
            raise CouponUnavailable(
                f"coupon {self.coupon.get('code')} is already applied to this invoice"
            )

    def check_payment(self, amount: int) -> None:
        destination(MACHINE, self.status, "pay", what="invoice")
        if self.amount_remaining == 0:
            # A payment of the remaining amount (the default) would be one of 0.
            raise PaymentExceedsRemaining("nothing remains to be paid", remaining=0)
        check_amount(amount)
        if amount > self.amount_remaining:
            raise PaymentExceedsRemaining(
                f"payment of {amount} is more than the {self.amount_remaining} remaining",
                remaining=self.amount_remaining,
            )

    def check_void(self) -> None:
        destination(MACHINE, self.status, "void", what="invoice")
        if self.amount_paid or self.credit_notes:
            raise InvalidTransition(
                "an invoice with payments or credit notes cannot be voided; issue a credit note",
                state=self.status,
                trigger="void",
            )


# -- the summary ------------------------------------------------------------------------

DATES = ("finalized_at", "paid_at", "voided_at", "marked_uncollectible_at")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def dunning_fields(dunning: InvoiceDunning | None) -> dict[str, Any]:
    """The keys of an invoice's summary that come from its dunning record."""
    return {
        "attempt_count": dunning.attempt_count if dunning else 0,
        "next_payment_attempt_at": _iso(dunning.next_attempt_at) if dunning else None,
        "dunning": dunning.summary() if dunning else None,
    }


def invoice_summary(invoice: InvoiceState, dunning: InvoiceDunning | None = None) -> dict[str, Any]:
    """The invoice as commands answer it and the read model keeps it (a draft shows
    the totals finalizing now would record); ``dunning`` adds its collection state."""
    totals = invoice.totals or preview_totals(invoice.lines, invoice.rates, invoice.coupon)
    priced = totals.get("lines", [])
    lines = [{**li, **(priced[i] if i < len(priced) else {})} for i, li in enumerate(invoice.lines)]
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
        "tax_rates": invoice.rates,
        "coupon": invoice.coupon,
        **{k: totals[k] for k in ("subtotal", "discount", "tax", "tax_by_rate", "total")},
        "credit_applied": invoice.credit_applied,
        "credit_granted": invoice.credit_granted,
        "amount_due": invoice.amount_due if invoice.totals else max(0, totals["total"]),
        "amount_paid": invoice.amount_paid,
        "amount_credited": invoice.amount_credited,
        "amount_refunded": invoice.amount_refunded,
        "amount_remaining": invoice.amount_remaining,
        "payments": invoice.payments,
        "credit_notes": invoice.credit_notes,
        **dunning_fields(dunning),
        "finalize_at": _iso(invoice.finalize_at),
        **{k: _iso(invoice.dates.get(k)) for k in DATES},
        "version": invoice.version,
    }
