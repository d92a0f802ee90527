"""What an invoice document shows, as display strings: every amount formatted with its
currency's exponent (``domain.money``), every date as a day, every rate as a percentage.

Nothing here computes money: the totals, discounts and tax per rate are the invoice's
own (the write side computed them); this only formats them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.money import Money


@dataclass(frozen=True)
class Party:
    """The seller or the buyer as the document names them."""

    name: str
    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LineView:
    description: str
    quantity: str
    unit_amount: str
    amount: str


@dataclass(frozen=True)
class InvoiceView:
    title: str
    number: str
    status: str
    currency: str
    dates: list[tuple[str, str]]
    seller: Party
    buyer: Party
    lines: list[LineView]
    totals: list[tuple[str, str]]
    notes: list[str]


def money(amount: int, currency: str) -> str:
    """``1234`` JPY is ``1234 JPY``, EUR ``12.34 EUR``, BHD ``1.234 BHD``."""
    return Money(int(amount), currency).format()


def day(value: Any) -> str:
    if value is None or value == "":
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.date().isoformat()


def _dates(invoice: dict[str, Any]) -> list[tuple[str, str]]:
    found = [
        ("Issued", day(invoice.get("finalized_at"))),
        ("Created", day(invoice.get("created_at"))),
        ("Paid", day(invoice.get("paid_at"))),
        ("Voided", day(invoice.get("voided_at"))),
        ("Uncollectible", day(invoice.get("marked_uncollectible_at"))),
    ]
    if invoice.get("period_start") and invoice.get("period_end"):
        period = f"{day(invoice['period_start'])} to {day(invoice['period_end'])}"
        found.append(("Period", period))
    return [(label, text) for label, text in found if text]


def _rate_label(rate: dict[str, Any]) -> str:
    name = str(rate.get("name") or "Tax")
    place = f" ({rate['jurisdiction']})" if rate.get("jurisdiction") else ""
    kind = " incl." if rate.get("inclusive") else ""
    return f"{name}{place} {rate.get('percentage', '?')}%{kind}"


def _totals(invoice: dict[str, Any]) -> list[tuple[str, str]]:
    currency = str(invoice["currency"])
    rows = [("Subtotal", money(invoice["subtotal"], currency))]
    if invoice.get("discount"):
        coupon = (invoice.get("coupon") or {}).get("code") or "coupon"
        rows.append((f"Discount ({coupon})", money(-int(invoice["discount"]), currency)))
    rates: dict[str, Any] = invoice.get("tax_rates") or {}
    for rate_id, tax in sorted((invoice.get("tax_by_rate") or {}).items()):
        rows.append((_rate_label(rates.get(rate_id, {})), money(tax, currency)))
    rows.append(("Total", money(invoice["total"], currency)))
    for label, key in (("Credit applied", "credit_applied"), ("Credited", "amount_credited")):
        if invoice.get(key):
            rows.append((label, money(-int(invoice[key]), currency)))
    rows.append(("Amount paid", money(invoice.get("amount_paid", 0), currency)))
    # A draft has nothing remaining yet; it shows what finalizing it would ask for.
    due_key = "amount_due" if invoice.get("status") == "draft" else "amount_remaining"
    rows.append(("Amount due", money(invoice.get(due_key) or 0, currency)))
    return rows


def invoice_view(invoice: dict[str, Any], seller: Party, buyer: Party) -> InvoiceView:
    currency = str(invoice["currency"])
    lines = [
        LineView(
            description=str(line.get("description", "")),
            quantity=str(line.get("quantity", 1)),
            unit_amount=money(line.get("unit_amount", 0), currency),
            amount=money(line.get("amount", 0), currency),
        )
        for line in invoice.get("lines", [])
    ]
    status = str(invoice.get("status", ""))
    number = str(invoice.get("number") or "DRAFT")
    notes = [str(invoice["description"])] if invoice.get("description") else []
    notes += [
        f"Credit note {note['id']}: {money(note['amount'], currency)}"
        + (f" ({note['reason']})" if note.get("reason") else "")
        for note in invoice.get("credit_notes", [])
    ]
    return InvoiceView(
        title=f"Invoice {number}",
        number=number,
        status=status,
        currency=currency,
        dates=_dates(invoice),
        seller=seller,
        buyer=buyer,
        lines=lines,
        totals=_totals(invoice),
        notes=notes,
    )


def buyer_party(customer: dict[str, Any] | None, customer_id: str) -> Party:
    if customer is None:
        return Party(name=f"Customer {customer_id}")
    name = str(customer.get("name") or customer.get("external_id") or customer_id)
    lines = [str(customer[k]) for k in ("email",) if customer.get(k)]
    lines.append(f"Customer ref: {customer.get('external_id', customer_id)}")
    return Party(name=name, lines=lines)


def seller_party(project: dict[str, Any] | None, settings: dict[str, Any] | None) -> Party:
    name = str((project or {}).get("name") or "Tally")
    prefix = (settings or {}).get("invoice_prefix")
    return Party(name=name, lines=[f"Invoice series: {prefix}"] if prefix else [])
