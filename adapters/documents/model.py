"""What an invoice document shows, as display strings: every amount formatted with its
currency's exponent (``domain.money``), every date as a day, every rate as a percentage.

Nothing here computes money: the totals, discounts and tax per rate are the invoice's
own (the write side computed them); this only formats them. A line shows a unit price
only when quantity x unit price is its amount; a tiered line shows its tiers as rows of
their own beneath it (``domain.price_tiers``), so every figure shown adds up.

Every date is the invoice's own (issued, due, period, paid), never the time the document
is rendered nor the time an event was stored, so an invoice made on a test clock reads
in the clock's time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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
    detail: bool = False  # a part of the line above (a tier), not a line of its own


@dataclass(frozen=True)
class InvoiceView:
    title: str
    number: str
    status: str
    summary: str
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


# What subscription invoices said about themselves before they spoke to customers:
# the scheduler's reason, which the document does not show.
INTERNAL_DESCRIPTION = re.compile(r"^subscription (started|renewed|trial_ended|resumed|upcoming)$")


def _moment(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _dates(invoice: dict[str, Any], terms_days: int) -> list[tuple[str, str]]:
    issued = _moment(invoice.get("finalized_at"))
    # A voided invoice is owed by no one, so it has no due date.
    owed = issued is not None and invoice.get("status") != "void"
    due = day(issued + timedelta(days=terms_days)) if issued is not None and owed else ""
    found = [
        ("Issued", day(issued)),
        ("Due", due),
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


def _tier_rows(tiers: list[dict[str, Any]], currency: str) -> list[LineView]:
    """A tiered line's parts: units first to last at a unit price, and a tier's flat
    fee as a row of its own, so each row's figures multiply out."""
    rows: list[LineView] = []
    for part in tiers:
        units = f"{part['first']}-{part['last']}" if part["last"] != part["first"] else ""
        label = f"units {units}" if units else f"unit {part['first']}"
        unit, count = int(part["unit_amount"]), int(part["quantity"])
        rows.append(
            LineView(
                description=label,
                quantity=str(count),
                unit_amount=money(unit, currency),
                amount=money(unit * count, currency),
                detail=True,
            )
        )
        if part.get("flat_amount"):
            flat = money(part["flat_amount"], currency)
            rows.append(LineView(f"{label}, flat fee", "", "", flat, detail=True))
    return rows


def _line_rows(line: dict[str, Any], currency: str) -> list[LineView]:
    quantity = int(line.get("quantity", 1))
    unit, amount = int(line.get("unit_amount", 0)), int(line.get("amount", 0))
    # A tiered price's amount is not quantity x one unit price: no unit price is shown
    # for it, rather than a rounded one that does not multiply out.
    shown_unit = money(unit, currency) if quantity * unit == amount else ""
    head = LineView(
        description=str(line.get("description", "")),
        quantity=str(quantity),
        unit_amount=shown_unit,
        amount=money(amount, currency),
    )
    tiers = line.get("tiers") or []
    if sum(int(t.get("amount", 0)) for t in tiers) != amount:
        tiers = []  # parts that do not add up are not shown
    return [head, *_tier_rows(tiers, currency)]


def _notes(invoice: dict[str, Any], currency: str, instructions: str) -> list[str]:
    notes = [
        f"Credit note {note['id']}: {money(note['amount'], currency)}"
        + (f" ({note['reason']})" if note.get("reason") else "")
        for note in invoice.get("credit_notes", [])
    ]
    if instructions and invoice.get("status") in ("draft", "open"):
        notes.append(f"How to pay: {instructions}")
    return notes


STATUS_TEXT = {"open": "open", "paid": "paid", "draft": "draft (not issued)"}


def invoice_view(
    invoice: dict[str, Any],
    seller: Party,
    buyer: Party,
    *,
    terms_days: int = 0,
    instructions: str = "",
) -> InvoiceView:
    currency = str(invoice["currency"])
    lines = [row for line in invoice.get("lines", []) for row in _line_rows(line, currency)]
    status = str(invoice.get("status", ""))
    number = str(invoice.get("number") or "DRAFT")
    description = str(invoice.get("description") or "")
    return InvoiceView(
        title=f"Invoice {number}",
        number=number,
        status=STATUS_TEXT.get(status, status),
        summary="" if INTERNAL_DESCRIPTION.match(description) else description,
        currency=currency,
        dates=_dates(invoice, terms_days),
        seller=seller,
        buyer=buyer,
        lines=lines,
        totals=_totals(invoice),
        notes=_notes(invoice, currency, instructions),
    )


def buyer_party(customer: dict[str, Any] | None, customer_id: str) -> Party:
    if customer is None:
        return Party(name=f"Customer {customer_id}")
    name = str(customer.get("name") or customer.get("external_id") or customer_id)
    lines = [str(customer[k]) for k in ("email",) if customer.get(k)]
    lines.append(f"Customer ref: {customer.get('external_id', customer_id)}")
    return Party(name=name, lines=lines)


def seller_party(project: dict[str, Any] | None, settings: dict[str, Any] | None) -> Party:
    """The project's name, then the address and tax id its billing settings give."""
    name = str((project or {}).get("name") or "Tally")
    values = settings or {}
    lines = [str(line) for line in values.get("seller_address") or []]
    if values.get("seller_tax_id"):
        lines.append(f"Tax ID: {values['seller_tax_id']}")
    return Party(name=name, lines=lines)
