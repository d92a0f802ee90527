"""What an invoice looks like from outside: the body every invoicing command answers
with and the invoices read model keeps (``Invoice.summary``), in one place."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain.invoice_totals import preview_totals

if TYPE_CHECKING:
    from domain.dunning import InvoiceDunning
    from domain.invoice_state import InvoiceState

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
